"""The learned weights: boosted decision trees over the per-recipient features, as JSON.

Two ensembles, because a recipient the sender never wrote to and a known contact go wrong in
different ways (a typo, a lookalike or a stranger, against the wrong one of two contacts):
``never_mailed`` picks the branch, and the known branch's base carries the offset that balances
the two on the training mailboxes.

Trees, because the signals matter in combination: a typo of a rarely mailed contact in a
message to many people, or a colleague of someone else's in a one-line note, is a mistake
only when several signals line up, and one line through all of them (the logistic regressions
this replaced) ranked such cases below the real first-time recipients.

Reasons stay per signal. Every node keeps the mean leaf value of the training rows under it,
so walking a recipient's path from root to leaf splits its logit exactly into one share per
feature that a split on it moved the value (Saabas' attribution): the base value plus the
shares is the logit, and the largest shares are the reasons the reply names.

Scoring is vectorised over trees: at load, every tree is laid out as a complete binary tree of
the ensemble's depth (a leaf above the bottom level becomes a chain of splits that always go
left and keep its value), so descending all trees for all recipients is a handful of ``take``
operations per level, with no branching on which rows have reached a leaf. Each node's value
minus its parent's is kept beside it, so the same descent yields the reasons; and the two
branches' trees share one layout, so a message is one descent whichever branches its
recipients take.

The file (``postwarden/data/misdirection-weights.json``, written by
``scripts/train_misdirection.py``) carries its feature names, the trees, the thresholds
measured on the training mailboxes and a summary of the training data. JSON rather than joblib:
loading it runs no code, and a changed feature list is refused loudly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from postwarden.misdirection.features import INDEX, NAMES

FORMAT = "postwarden-misdirection-weights/3"
DEFAULT_FILE = "misdirection-weights.json"
LEAF = -1  # the feature of a leaf
BRANCHES = ("known", "unknown")


class ModelError(Exception):
    """A weights file that is missing, malformed or made for other features."""


@dataclass(frozen=True)
class Trees:
    """Flat node arrays of every tree; a node goes left when ``x[feature] <= threshold``.

    ``value`` is the leaf value at leaves and the mean leaf value of the training rows below
    it at inner nodes (what the attribution measures moves against).
    """

    base: float
    roots: np.ndarray  # int, one per tree
    feature: np.ndarray  # int, LEAF at leaves
    threshold: np.ndarray
    left: np.ndarray  # int, node index (leaves point at themselves)
    right: np.ndarray
    value: np.ndarray
    depth: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_heap", _complete(self))

    def logit(self, x: np.ndarray) -> np.ndarray:
        return self._descend(x, False)[0]

    def explain(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The logit of every row of ``x`` and each feature's share of it (see _Heap.descend)."""
        return self._descend(x, True)  # type: ignore[return-value]

    def _descend(self, x: np.ndarray, attribute: bool) -> tuple[np.ndarray, np.ndarray | None]:
        heap: _Heap = self._heap  # type: ignore[attr-defined]
        x = np.atleast_2d(x)
        start = np.broadcast_to(heap.roots, (x.shape[0], heap.roots.size))
        return heap.descend(x, start, self.base, attribute)

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Each feature's share of the logit along the row's paths (the root values and the
        base make up the rest)."""
        return self.explain(np.asarray(row, dtype=np.float64)[None, :])[1][0]

    def to_dict(self) -> dict:
        return {"base": self.base, "depth": self.depth, "roots": self.roots.tolist(),
                "feature": self.feature.tolist(), "threshold": self.threshold.tolist(),
                "left": self.left.tolist(), "right": self.right.tolist(), "value": self.value.tolist()}


@dataclass(frozen=True)
class Weights:
    known: Trees
    unknown: Trees
    thresholds: dict[str, float]
    meta: dict

    def __post_init__(self) -> None:
        object.__setattr__(self, "_both", _Heap.join(self.known._heap, self.unknown._heap))  # type: ignore[attr-defined]

    @property
    def default_threshold(self) -> float:
        return self.thresholds["fpr_0.5"]

    @staticmethod
    def is_unknown(x: np.ndarray) -> np.ndarray:
        return x[..., INDEX["never_mailed"]] >= 0.5

    def logit(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        out = np.empty(x.shape[0])
        unknown = self.is_unknown(x)
        for branch, rows in ((self.unknown, unknown), (self.known, ~unknown)):
            if rows.any():
                out[rows] = branch.logit(x[rows])
        return out

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probability-like misdirection score per row of ``x``."""
        return _probability(self.logit(x))

    def explain(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The score of every row of ``x`` and each feature's share of its logit (see
        _Heap.descend): what scoring a message needs. Both branches in one descent when their
        ensembles have the same shape (each row starts at the roots of its own branch's trees),
        else one descent per branch."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        unknown = self.is_unknown(x)
        both: _Heap | None = self._both  # type: ignore[attr-defined]
        if both is not None:
            branch = unknown.astype(np.intp)
            logit, shares = both.descend(x, both.roots.take(branch, axis=0),
                                         np.array([self.known.base, self.unknown.base]).take(branch), True)
            return _probability(logit), shares  # type: ignore[arg-type]
        logit, shares = np.empty(x.shape[0]), np.empty(x.shape)
        for trees, rows in ((self.unknown, unknown), (self.known, ~unknown)):
            if rows.any():
                logit[rows], shares[rows] = trees.explain(x[rows])
        return _probability(logit), shares

    def branch(self, row: np.ndarray) -> Trees:
        return self.unknown if self.is_unknown(row) else self.known

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Each feature's share of the logit (see Trees.contributions)."""
        row = np.asarray(row, dtype=np.float64)
        return self.branch(row).contributions(row)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "features": NAMES, "known": self.known.to_dict(),
                "unknown": self.unknown.to_dict(), "thresholds": self.thresholds, "meta": self.meta}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=None, sort_keys=True) + "\n")


def _probability(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -40, 40)))


@dataclass(frozen=True)
class _Heap:
    """Trees laid out as complete binary trees of one depth, in heap order, end to end: node
    ``n`` of the layout goes to ``first_child[n]`` when ``x[feature[n]] <= threshold[n]``, else
    to the node after it. A leaf above the bottom level becomes a chain of splits that always go
    left and keep its value, so descending every tree for every row is a handful of ``take``
    operations per level, with no branching on which rows have reached a leaf.

    ``value`` is each node's value (the leaf value at the bottom), ``delta`` its value minus its
    parent's (0 along the padding chains): what the step into it moved the logit, for the
    attribution. ``roots`` holds each tree's root; for two ensembles joined, one row per
    ensemble.
    """

    feature: np.ndarray
    threshold: np.ndarray
    first_child: np.ndarray
    value: np.ndarray
    delta: np.ndarray
    roots: np.ndarray
    depth: int

    def descend(self, x: np.ndarray, start: np.ndarray, base: float | np.ndarray,
                attribute: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The logit of every row of ``x`` from the trees whose roots ``start`` (rows x trees)
        names, and with ``attribute`` each feature's share of it (Saabas): each step adds the
        delta of the child it took to its split's feature. A row's shares are added level by
        level and tree by tree, in that order whatever the rows beside it, so the same row
        always gets the same floats."""
        n_rows, n_feat = x.shape
        flat = np.ascontiguousarray(x, dtype=np.float64).ravel()
        row_at = (np.arange(n_rows) * n_feat)[:, None]
        node = start
        cells, moved = [], []
        for _ in range(self.depth):
            cell = row_at + self.feature.take(node)
            right = flat.take(cell) > self.threshold.take(node)
            node = self.first_child.take(node) + right
            if attribute:
                cells.append(cell)
                moved.append(self.delta.take(node))
        logit = base + self.value.take(node).sum(axis=1)
        if not attribute:
            return logit, None
        shares = np.bincount(np.concatenate(cells, axis=None), np.concatenate(moved, axis=None),
                             minlength=n_rows * n_feat)
        return logit, shares.reshape(n_rows, n_feat)

    @staticmethod
    def join(first: _Heap, second: _Heap) -> _Heap | None:
        """Both layouts in one, the second's nodes after the first's; None unless they have as
        many trees of the same depth (a row must descend as many trees as its neighbours)."""
        if first.depth != second.depth or first.roots.shape != second.roots.shape:
            return None
        offset = first.value.size
        return _Heap(np.concatenate([first.feature, second.feature]),
                     np.concatenate([first.threshold, second.threshold]),
                     np.concatenate([first.first_child, second.first_child + offset]),
                     np.concatenate([first.value, second.value]), np.concatenate([first.delta, second.delta]),
                     np.stack([first.roots, second.roots + offset]), first.depth)


def _complete(trees: Trees) -> _Heap:
    """Every tree of ``trees`` as a complete binary tree of depth ``trees.depth`` (see _Heap)."""
    d = trees.depth
    size = 2 ** (d + 1) - 1  # nodes per tree: 2**d - 1 inner ones, then 2**d leaves
    n = trees.roots.size * size
    feature = np.zeros(n, dtype=np.int64)
    threshold = np.full(n, np.inf)  # padding and leaves: always left
    first_child = np.arange(n, dtype=np.int64)  # leaves: never followed
    value, delta = np.zeros(n), np.zeros(n)
    for t, root in enumerate(trees.roots):
        at = t * size
        stack = [(int(root), 0, 0, int(root))]  # (node, heap position, level, parent node)
        while stack:
            node, pos, level, parent = stack.pop()
            value[at + pos] = trees.value[node]
            delta[at + pos] = trees.value[node] - trees.value[parent]
            if level == d:
                continue
            first_child[at + pos] = at + 2 * pos + 1
            if trees.feature[node] == LEAF:
                stack += [(node, 2 * pos + 1, level + 1, node), (node, 2 * pos + 2, level + 1, node)]
            else:
                feature[at + pos], threshold[at + pos] = trees.feature[node], trees.threshold[node]
                stack += [(int(trees.left[node]), 2 * pos + 1, level + 1, node),
                          (int(trees.right[node]), 2 * pos + 2, level + 1, node)]
    return _Heap(feature, threshold, first_child, value, delta, np.arange(trees.roots.size) * size, d)


def _trees(data: dict, where: str) -> Trees:
    ints = {k: np.asarray(data[k], dtype=np.int64) for k in ("roots", "feature", "left", "right")}
    floats = {k: np.asarray(data[k], dtype=np.float64) for k in ("threshold", "value")}
    n = floats["value"].size
    depth = int(data["depth"])
    if (any(a.shape != (n,) for k, a in {**ints, **floats}.items() if k != "roots")
            or ints["roots"].ndim != 1 or not math.isfinite(float(data["base"])) or not 0 < depth <= 12
            or not np.isfinite(floats["value"]).all() or np.isnan(floats["threshold"]).any()):
        raise ModelError(f"{where}: malformed trees")
    for k in ("roots", "left", "right"):
        if ((ints[k] < 0) | (ints[k] >= n)).any():
            raise ModelError(f"{where}: malformed trees (node index out of range)")
    if ((ints["feature"] < LEAF) | (ints["feature"] >= len(NAMES))).any():
        raise ModelError(f"{where}: malformed trees (feature index out of range)")
    return Trees(float(data["base"]), ints["roots"], ints["feature"], floats["threshold"], ints["left"],
                 ints["right"], floats["value"], depth)


def load_weights(path: str | Path | None = None) -> Weights:
    try:
        if path is None:
            text = resources.files("postwarden").joinpath("data", DEFAULT_FILE).read_text()
            where = f"postwarden/data/{DEFAULT_FILE}"
        else:
            text, where = Path(path).read_text(), str(path)
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read misdirection weights: {exc}") from None
    if data.get("format") != FORMAT:
        raise ModelError(f"{where}: not a {FORMAT} file")
    if data.get("features") != NAMES:
        raise ModelError(f"{where}: made for other features than this postwarden's; retrain it")
    try:
        known, unknown = (_trees(data[b], where) for b in BRANCHES)
        thresholds = {k: float(v) for k, v in dict(data["thresholds"]).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where}: malformed weights ({exc})") from None
    return Weights(known, unknown, thresholds, dict(data.get("meta", {})))
