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
operations per level, with no branching on which rows have reached a leaf.

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
        object.__setattr__(self, "_full", _complete(self))

    def logit(self, x: np.ndarray) -> np.ndarray:
        return self._descend(x, False)[0]

    def explain(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The logit of every row of ``x`` and each feature's share of it (one row of shares
        per row of ``x``), from one descent of all trees.

        Each feature's share is what the splits on it moved the value along the row's paths
        (Saabas): the value deltas are computed per node at load, so each step adds the delta of
        the child it took to its split's feature, for all rows and trees in a few ``take``
        operations and one ``bincount``. The shares of a row are added level by level and tree
        by tree, always in that order, so a row's shares do not depend on the rows beside it.
        """
        return self._descend(x, True)  # type: ignore[return-value]

    def _descend(self, x: np.ndarray, attribute: bool) -> tuple[np.ndarray, np.ndarray | None]:
        feat, thr, leaf_value, delta = self._full  # type: ignore[attr-defined]
        n_trees, inner = feat.shape
        n_rows, n_feat = x.shape
        flat = np.ascontiguousarray(x, dtype=np.float64).ravel()
        base = (np.arange(n_trees) * inner)[None, :]  # each tree's first inner node
        row_at = (np.arange(n_rows) * n_feat)[:, None]
        tree_at = (np.arange(n_trees) * (2 * inner + 1))[None, :]  # each tree's root in ``delta``
        local = np.zeros((n_rows, n_trees), dtype=np.int64)
        ft, tt = feat.ravel(), thr.ravel()
        cells, moved = [], []
        for _ in range(self.depth):
            g = base + local
            cell = row_at + ft.take(g)
            right = flat.take(cell) > tt.take(g)
            local = 2 * local + 1 + right
            if attribute:
                cells.append(cell)
                moved.append(delta.take(tree_at + local))
        leaf = local - inner + (np.arange(n_trees) * (inner + 1))[None, :]
        logit = self.base + leaf_value.ravel().take(leaf).sum(axis=1)
        if not attribute:
            return logit, None
        shares = np.bincount(np.concatenate(cells, axis=None), np.concatenate(moved, axis=None),
                             minlength=n_rows * n_feat)
        return logit, shares.reshape(n_rows, n_feat)

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
        Trees.explain): what scoring a message needs, in one descent per branch."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        logit, shares = np.empty(x.shape[0]), np.empty(x.shape)
        unknown = self.is_unknown(x)
        for branch, rows in ((self.unknown, unknown), (self.known, ~unknown)):
            if rows.any():
                logit[rows], shares[rows] = branch.explain(x[rows])
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


def _complete(trees: Trees) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every tree as a complete binary tree of depth ``trees.depth``: (feature, threshold) of its
    2**depth - 1 inner nodes in heap order, the values of its 2**depth leaves, and per node of
    the whole heap (2**(depth+1) - 1, root first, all trees end to end) its value minus its
    parent's, which is 0 for the root and for the padding below a leaf that kept its value."""
    d = trees.depth
    n_inner, n_leaf = 2 ** d - 1, 2 ** d
    feat = np.zeros((trees.roots.size, n_inner), dtype=np.int64)
    thr = np.full((trees.roots.size, n_inner), np.inf)  # padding: always left
    leaves = np.zeros((trees.roots.size, n_leaf))
    delta = np.zeros((trees.roots.size, n_inner + n_leaf))
    for t, root in enumerate(trees.roots):
        stack = [(int(root), 0, 0, int(root))]  # (node, heap position, level, parent node)
        while stack:
            node, pos, level, parent = stack.pop()
            delta[t, pos] = trees.value[node] - trees.value[parent]
            if level == d:
                leaves[t, pos - n_inner] = trees.value[node]
            elif trees.feature[node] == LEAF:
                stack += [(node, 2 * pos + 1, level + 1, node), (node, 2 * pos + 2, level + 1, node)]
            else:
                feat[t, pos], thr[t, pos] = trees.feature[node], trees.threshold[node]
                stack += [(int(trees.left[node]), 2 * pos + 1, level + 1, node),
                          (int(trees.right[node]), 2 * pos + 2, level + 1, node)]
    return feat, thr, leaves, delta.ravel()


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
