"""The run-time text model: sparse weights per head plus the featuriser settings, in one file.

A model file is a joblib dump of plain values (dicts, lists, numpy arrays; no classes of
ours), so a file written by one release loads in the next as long as ``FORMAT_VERSION``
matches; a mismatch is refused with a message that says which versions are involved. Loading
a joblib file runs pickle, which can execute code: ``load_model`` only opens files that lie
inside a directory the operator named as trusted (the configured model directory, or the
package's own shipped-model directory).

Each head (``spam``: spam vs ham, ``phish``: phishing vs legitimate) is a logistic model over
the hashed features: ``z = w·x + b``, calibrated on validation data with Platt scaling,
``p = 1 / (1 + exp(-(a z + c)))``, and a probability threshold chosen on validation. Scoring
needs numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from postwarden.classifiers.features import FeatureVector, Featuriser, FeaturiserSettings
from postwarden.message import ParsedMessage

FORMAT_VERSION = 1
KIND = "postwarden-text-model"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "models"


class ModelError(Exception):
    """A model file that cannot be used: missing, untrusted, of another format, or broken."""


class OutdatedModel(ModelError):
    """A sound model file that another postwarden made (another file format or featuriser): an
    upgrade makes every version learned before it one of these, which is why following CURRENT
    falls back to the shipped model rather than stop the filter (``ModelStore.load``)."""


@dataclass
class Head:
    name: str
    weights: np.ndarray  # dense float32, one per hashed feature
    intercept: float
    platt_a: float = 1.0
    platt_b: float = 0.0
    threshold: float = 0.5

    def probability(self, z: float) -> float:
        t = self.platt_a * z + self.platt_b
        return 1.0 / (1.0 + math.exp(-t)) if t > -500 else 0.0

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.platt_a * z + self.platt_b, -500, 500)))

    def decision_at(self, p: float) -> float:
        """The decision value whose calibrated probability is ``p`` (0 < p < 1)."""
        return (math.log(p / (1 - p)) - self.platt_b) / self.platt_a


@dataclass
class HeadScore:
    head: str
    probability: float
    threshold: float
    vector: FeatureVector | None = field(default=None, repr=False)
    contributions: np.ndarray | None = field(default=None, repr=False)
    top_k: int = 0
    _top: list[tuple[str, float]] | None = field(default=None, repr=False)

    @property
    def over(self) -> bool:
        return self.probability >= self.threshold

    @property
    def logit(self) -> float:
        """The calibrated log-odds, bounded so that p = 0 or 1 compares too."""
        p = min(max(self.probability, 1e-12), 1 - 1e-12)
        return math.log(p / (1 - p))

    @property
    def top(self) -> list[tuple[str, float]]:
        """The ``top_k`` features that pushed hardest towards the head's class.

        Worked out when first read: the reasons need them only for the heads that hit, and
        naming features is a good part of the cost of scoring a message.
        """
        if self._top is None:
            self._top = []
            c = self.contributions
            if self.top_k and self.vector is not None and c is not None and len(c):
                k = min(self.top_k, len(c))
                best = np.argpartition(-c, k - 1)[:k]
                best = best[np.argsort(-c[best])]
                self._top = [(self.vector.name(i), float(c[i])) for i in best if c[i] > 0]
        return self._top


@dataclass
class TextModel:
    version: str
    featuriser: Featuriser
    heads: dict[str, Head]
    info: dict[str, Any] = field(default_factory=dict)  # summary, metrics, created, parent

    def score_vector(self, vector: FeatureVector, top: int = 0) -> dict[str, HeadScore]:
        out: dict[str, HeadScore] = {}
        for name, head in self.heads.items():
            contributions = head.weights[vector.indices] * vector.values
            z = float(contributions.sum() + head.intercept)
            out[name] = HeadScore(name, head.probability(z), head.threshold, vector, contributions, top)
        return out

    def score(self, message: ParsedMessage, top: int = 0, arrival: str | None = None) -> dict[str, HeadScore]:
        """p(spam) and p(phish) of a parsed message, with the ``top`` strongest features each;
        ``arrival`` as in ``Featuriser.segments``."""
        return self.score_vector(self.featuriser.transform(message, arrival), top)

    # -- persistence -----------------------------------------------------------------------
    def to_payload(self, max_weights: int | None = None) -> dict[str, Any]:
        heads = {}
        for name, head in self.heads.items():
            nonzero = np.flatnonzero(head.weights)
            if max_weights is not None and len(nonzero) > max_weights:
                keep = np.argpartition(-np.abs(head.weights[nonzero]), max_weights - 1)[:max_weights]
                nonzero = np.sort(nonzero[keep])
            heads[name] = {
                "indices": nonzero.astype(np.uint32),
                "weights": head.weights[nonzero].astype(np.float16),
                "intercept": float(head.intercept),
                "platt_a": float(head.platt_a),
                "platt_b": float(head.platt_b),
                "threshold": float(head.threshold),
            }
        return {"kind": KIND, "format_version": FORMAT_VERSION, "version": self.version,
                "featuriser": self.featuriser.settings.to_dict(), "heads": heads, "info": self.info}

    def save(self, path: str | Path, max_weights: int | None = None) -> Path:
        """Write atomically (a temporary file renamed into place), so a reader never sees half."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        joblib.dump(self.to_payload(max_weights), tmp, compress=("zlib", 6))
        tmp.replace(path)
        return path

    @classmethod
    def from_payload(cls, payload: Any, where: str = "model") -> TextModel:
        if not isinstance(payload, dict) or payload.get("kind") != KIND:
            raise ModelError(f"{where}: not a postwarden text model")
        if payload.get("format_version") != FORMAT_VERSION:
            raise OutdatedModel(f"{where}: model format {payload.get('format_version')!r}, this "
                                f"postwarden reads format {FORMAT_VERSION}; retrain or upgrade")
        try:
            version = payload["featuriser"].get("version")
            if version != FeaturiserSettings().version:
                raise OutdatedModel(f"{where}: featuriser version {version}, this postwarden "
                                    f"has {FeaturiserSettings().version}; train or learn a new version")
            featuriser = Featuriser(FeaturiserSettings.from_dict(payload["featuriser"]))
            heads = {}
            for name, data in payload["heads"].items():
                weights = np.zeros(featuriser.dimension, dtype=np.float32)
                weights[np.asarray(data["indices"], dtype=np.int64)] = data["weights"]
                heads[name] = Head(name, weights, float(data["intercept"]), float(data["platt_a"]),
                                   float(data["platt_b"]), float(data["threshold"]))
            return cls(str(payload["version"]), featuriser, heads, dict(payload.get("info", {})))
        except ModelError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelError(f"{where}: broken model file: {type(exc).__name__}: {exc}") from None


def is_trusted(path: Path, trusted_dirs: list[Path]) -> bool:
    real = path.resolve()
    return any(real.is_relative_to(d.resolve()) for d in trusted_dirs)


def load_model(path: str | Path, trusted_dirs: list[Path] | None = None) -> TextModel:
    """Load a model file that lies in one of ``trusted_dirs`` (default: the shipped-model dir)."""
    path = Path(path)
    trusted = trusted_dirs if trusted_dirs is not None else [SHIPPED_DIR]
    if not is_trusted(path, trusted):
        raise ModelError(f"{path}: refusing to load a model from outside the trusted model "
                         f"directories ({', '.join(str(d) for d in trusted)}): a joblib file can "
                         "run code when loaded")
    try:
        payload = joblib.load(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except Exception as exc:
        raise ModelError(f"{path}: cannot read model: {type(exc).__name__}: {exc}") from None
    return TextModel.from_payload(payload, str(path))
