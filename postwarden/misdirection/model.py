"""The learned weights: two logistic regressions over the per-recipient features, as JSON.

Two, because a recipient the sender never wrote to and a known contact go wrong in different
ways (a typo, a lookalike or a stranger, against the wrong one of two contacts), and one line
through both kinds serves neither well. ``never_mailed`` picks the branch; each branch is a
plain standardised logistic regression, so every feature's share of the logit is still a
reason a person can read. The known branch's intercept carries the offset that balances the
two on the training mailboxes.

The file (``postwarden/data/misdirection-weights.json``, written by
``scripts/train_misdirection.py``) carries its feature names, both branches, the thresholds
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

FORMAT = "postwarden-misdirection-weights/2"
DEFAULT_FILE = "misdirection-weights.json"
BRANCHES = ("known", "unknown")


class ModelError(Exception):
    """A weights file that is missing, malformed or made for other features."""


@dataclass(frozen=True)
class Linear:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each feature's share of the logit measured from zero, so an absent signal (a
        feature at 0) contributes nothing and the reasons name only what is there."""
        return self.coef * x / self.scale

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept}


@dataclass(frozen=True)
class Weights:
    known: Linear
    unknown: Linear
    thresholds: dict[str, float]
    meta: dict

    @property
    def default_threshold(self) -> float:
        return self.thresholds["fpr_0.5"]

    @staticmethod
    def is_unknown(x: np.ndarray) -> np.ndarray:
        return x[..., INDEX["never_mailed"]] >= 0.5

    def logit(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        return np.where(self.is_unknown(x), self.unknown.logit(x), self.known.logit(x))

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probability-like misdirection score per row of ``x``."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(x), -40, 40)))

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Each feature's share of the logit (see Linear.contributions)."""
        branch = self.unknown if self.is_unknown(row) else self.known
        return branch.contributions(row)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "features": NAMES, "known": self.known.to_dict(),
                "unknown": self.unknown.to_dict(), "thresholds": self.thresholds, "meta": self.meta}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")


def _linear(data: dict, where: str) -> Linear:
    arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
    if any(a.shape != (len(NAMES),) for a in arrays) or not math.isfinite(data["intercept"]):
        raise ModelError(f"{where}: malformed weights")
    return Linear(*arrays, float(data["intercept"]))


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
        known, unknown = (_linear(data[b], where) for b in BRANCHES)
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{where}: malformed weights ({exc})") from None
    return Weights(known, unknown, dict(data["thresholds"]), dict(data.get("meta", {})))
