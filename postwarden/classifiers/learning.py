"""``postwarden learn``: a new model version from the mail an operator says was misjudged.

Feedback messages are featurised and added to ``feedback.joblib`` in the model directory
(hashed feature indices and values, the label and a digest of the message identity; no
text, no addresses). The same split rule as training decides each message's role: those in
the train buckets (70 percent) are learned from, the others are held out to measure whether
the new version is better, so the verdict on a version is never given by the mail it learned.

The update starts from the running version's weights and minimises, over all learned feedback,
``sum(hinge^2) + (1/2C) * ||w - w_running||^2`` (L-BFGS, only the weights of features that
occur in the feedback move; the intercept and the calibration stay). A message's hinge is how
far its decision value falls short of ``LEARN_MARGIN`` past the threshold the daemon uses (the
operator's, where set), on the side its label says; a message already that far costs nothing.
So the weights move only as far as the mistakes need, and a handful of messages corrects them
without forgetting the corpus the model came from. The log loss used before pushed every fed
message on towards certainty, and with it every other message sharing its words: newsletters
moved to ham made the spam head miss several times more held-out spam than with the margin, for
about the same correction (BENCHMARKS.md, "Across years and sources"). Labels: ``spam`` is
positive for the spam head, ``phish`` for the phishing head, and ``ham`` is negative for both.

Measure: the error rates of each head at its threshold on the held-out feedback (and on any
``--check-ham`` / ``--check-spam`` / ``--check-phish`` mail given), for each class on its own:
false positives on ham, misses on spam or phishing. The new version is refused when any of them
is worse than the running version's by more than ``models.learn_margin``, unless forced, so
mail labelled wrongly (ham that is really spam) cannot quietly buy fewer false positives with
more misses.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

from postwarden.classifiers.model_file import Head, TextModel
from postwarden.classifiers.split import TRAIN, bucket, identity
from postwarden.classifiers.training import HEAD_POSITIVES, Example, decision, matrix
from postwarden.message import parse_message
from postwarden.sources import read_messages

FEEDBACK_FILE = "feedback.joblib"
LEARN_C = 10.0
# How far past the threshold (in decision units, before calibration) a corrected message is put.
LEARN_MARGIN = 2.0


@dataclass
class LearnReport:
    accepted: bool
    version: str
    learned: int
    held_out: int
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    # the labels no held-out mail measured the new version on ("spam", "phish", "ham"): feedback
    # of one class can still raise the other's error, and nothing here would show it
    unchecked: list[str] = field(default_factory=list)


def featurise_feedback(model: TextModel, label: str, paths: list[str],
                       group: str = "feedback") -> list[Example]:
    out = []
    for message in read_messages(paths):
        vector = model.featuriser.transform(parse_message(message.raw))
        digest = hashlib.sha256(identity(message.raw)).hexdigest()[:32]
        out.append(Example(digest, group, label, bucket(message.raw), vector.indices, vector.values))
    return out


def load_feedback(directory: Path, featuriser_version: int) -> tuple[list[Example], int]:
    """The feedback kept so far, and how many rows were dropped because another featuriser made
    them: only their hashed features are kept, not the mail, so they cannot be re-read, and
    features of one featuriser mean nothing to the weights of another."""
    path = directory / FEEDBACK_FILE
    if not path.exists():
        return [], 0
    stored = joblib.load(path)
    # A bare list is the file before it named its featuriser: there is no telling what made it.
    rows, version = (stored, None) if isinstance(stored, list) else (stored["rows"], stored["featuriser"])
    if version != featuriser_version:
        return [], len(rows)
    return [Example(**row) for row in rows], 0


def save_feedback(directory: Path, examples: list[Example], featuriser_version: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rows = [{"source": e.source, "group": e.group, "label": e.label, "bucket": e.bucket,
             "indices": e.indices, "values": e.values} for e in examples]
    tmp = directory / f".{FEEDBACK_FILE}.tmp"
    joblib.dump({"featuriser": featuriser_version, "rows": rows}, tmp, compress=3)
    tmp.replace(directory / FEEDBACK_FILE)


def merge_feedback(old: list[Example], new: list[Example]) -> list[Example]:
    """Newest label wins for a message given twice (an operator changing their mind)."""
    by_id = {e.source: e for e in old}
    for e in new:
        by_id[e.source] = e
    return list(by_id.values())


def _update_head(head: Head, examples: list[Example], name: str, dimension: int,
                 threshold: float) -> Head:
    positives = set(HEAD_POSITIVES[name])
    X = matrix(examples, dimension)
    side = np.array([1.0 if e.label in positives else -1.0 for e in examples])
    touched = np.unique(X.indices)
    Xs = sp.csr_matrix(X[:, touched])
    w0 = head.weights[touched].astype(np.float64)
    wanted = head.decision_at(threshold) + side * LEARN_MARGIN

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        short = np.maximum(0.0, side * (wanted - (Xs @ w + head.intercept)))
        value = float(np.sum(short ** 2)) + 0.5 / LEARN_C * float(np.sum((w - w0) ** 2))
        grad = Xs.T @ (-2.0 * side * short) + (w - w0) / LEARN_C
        return value, grad

    result = minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    weights = head.weights.copy()
    weights[touched] = result.x.astype(np.float32)
    return Head(name, weights, head.intercept, head.platt_a, head.platt_b, head.threshold)


def error_rates(model: TextModel, examples: list[Example], thresholds: dict[str, float]) -> dict[str, float]:
    """Share misjudged at each head's threshold, per head and class: ``spam/ham`` is the
    false-positive rate of the spam head, ``spam/positive`` its miss rate (classes absent are
    left out)."""
    out = {}
    for name, head in model.heads.items():
        positives = set(HEAD_POSITIVES[name])
        rows = [e for e in examples if e.label == "ham" or e.label in positives]
        if not rows:
            continue
        y = np.array([e.label in positives for e in rows])
        flagged = head.probabilities(decision(head, rows)) >= thresholds[name]
        if (~y).any():
            out[f"{name}/ham"] = float(np.mean(flagged[~y]))
        if y.any():
            out[f"{name}/positive"] = float(np.mean(~flagged[y]))
    return out


def learn(model: TextModel, feedback: list[Example], check: list[Example], margin: float,
          force: bool = False, version: str | None = None,
          thresholds: dict[str, float] | None = None) -> tuple[TextModel, LearnReport]:
    """A new version learned from ``feedback`` (all of it, learned or held out by bucket).

    ``thresholds`` are the operator's (``models.spam_threshold`` and ``phish_threshold``) where
    set: corrections are put past the threshold the daemon uses, and measured at it, or a spam
    fed back under a raised threshold would end up flagged only at the model's own."""
    thresholds = {name: (thresholds or {}).get(name, head.threshold) for name, head in model.heads.items()}
    learned = [e for e in feedback if e.split == TRAIN]
    held_out = [e for e in feedback if e.split != TRAIN] + check
    heads = dict(model.heads)
    for name, head in model.heads.items():
        # Unlike training, spam feedback is no "not phishing" for the phishing head: an operator's
        # junk folder holds the phishing that came through too.
        rows = [e for e in learned if e.label == "ham" or e.label in HEAD_POSITIVES[name]]
        if rows:
            heads[name] = _update_head(head, rows, name, model.featuriser.dimension, thresholds[name])
    version = version or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    info: dict[str, Any] = dict(model.info)
    info["parent"] = model.version
    info["learned"] = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "feedback": len(feedback), "learned": len(learned), "held_out": len(held_out)}
    new = TextModel(version, model.featuriser, heads, info)
    report = LearnReport(True, version, len(learned), len(held_out))
    if not learned:
        report.accepted, report.reason = False, "no feedback message falls in the train buckets yet"
        return new, report
    held_labels = {e.label for e in held_out}
    report.unchecked = [label for label in ("ham", *HEAD_POSITIVES)
                        if label not in held_labels and (label == "ham" or label in model.heads)]
    if held_out:
        report.before = error_rates(model, held_out, thresholds)
        report.after = error_rates(new, held_out, thresholds)
        worse = [h for h in report.after if report.after[h] > report.before.get(h, 0.0) + margin]
        if worse and not force:
            report.accepted = False
            report.reason = (f"held-out error rate worse beyond margin {margin}: " + ", ".join(
                f"{h} {report.before[h]:.4f} -> {report.after[h]:.4f}" for h in worse))
    else:
        report.reason = "no held-out feedback to measure against yet"
    return new, report
