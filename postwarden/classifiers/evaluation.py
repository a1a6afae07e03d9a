"""Figures for a text model on labelled mail: the same definitions for train, eval and scripts.

Scores are ranked with the positive class high. Conventions, chosen to be conservative:

- recall at a false-positive rate ``f``: the threshold admits at most ``floor(f * n_negative)``
  negatives, and a positive counts only when it scores strictly above that threshold (a tie
  with a negative is not a catch);
- false-positive rate at recall ``r``: the threshold is the score of the ``ceil(r * n_positive)``-th
  best positive, and every negative scoring at or above it counts;
- ROC AUC is the Mann-Whitney statistic with ties counted half.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

FPR_POINTS = (0.001, 0.005, 0.01)
RECALL_POINTS = (0.95, 0.99)


def roc_auc(negative: np.ndarray, positive: np.ndarray) -> float:
    if not len(negative) or not len(positive):
        return float("nan")
    scores = np.concatenate([negative, positive])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    pos_ranks = ranks[len(negative):].sum()
    n_pos, n_neg = len(positive), len(negative)
    return float((pos_ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_at_fpr(negative: np.ndarray, fpr: float) -> float:
    allowed = math.floor(fpr * len(negative) + 1e-9)
    ordered = np.sort(negative)[::-1]
    return float(ordered[allowed]) if allowed < len(ordered) else float("-inf")


def recall_at_fpr(negative: np.ndarray, positive: np.ndarray, fpr: float) -> float:
    if not len(positive):
        return float("nan")
    if not len(negative):
        return 1.0
    return float(np.mean(positive > threshold_at_fpr(negative, fpr)))


def fpr_at_recall(negative: np.ndarray, positive: np.ndarray, recall: float) -> float:
    if not len(negative) or not len(positive):
        return float("nan")
    ordered = np.sort(positive)[::-1]
    threshold = ordered[max(math.ceil(recall * len(ordered)) - 1, 0)]
    return float(np.mean(negative >= threshold))


def confusion(negative: np.ndarray, positive: np.ndarray, threshold: float) -> dict[str, int]:
    return {"tp": int(np.sum(positive >= threshold)), "fn": int(np.sum(positive < threshold)),
            "fp": int(np.sum(negative >= threshold)), "tn": int(np.sum(negative < threshold))}


def head_metrics(negative: np.ndarray, positive: np.ndarray,
                 threshold: float | None = None) -> dict[str, Any]:
    """Every figure the issue asks for, for one head on one data set."""
    negative = np.asarray(negative, dtype=np.float64)
    positive = np.asarray(positive, dtype=np.float64)
    out: dict[str, Any] = {"negatives": len(negative), "positives": len(positive),
                           "roc_auc": roc_auc(negative, positive)}
    for f in FPR_POINTS:
        out[f"recall_at_fpr_{f:g}"] = recall_at_fpr(negative, positive, f)
    for r in RECALL_POINTS:
        out[f"fpr_at_recall_{r:g}"] = fpr_at_recall(negative, positive, r)
    if threshold is not None:
        table = confusion(negative, positive, threshold)
        out["threshold"] = threshold
        out["confusion"] = table
        out["fpr_at_threshold"] = table["fp"] / len(negative) if len(negative) else float("nan")
        out["recall_at_threshold"] = table["tp"] / len(positive) if len(positive) else float("nan")
    return out


def format_metrics(name: str, m: dict[str, Any]) -> str:
    lines = [f"{name}: {m['positives']} positive, {m['negatives']} negative",
             f"  ROC AUC                      {m['roc_auc']:.5f}"]
    for f in FPR_POINTS:
        lines.append(f"  recall at FPR {f * 100:<5g}%        {m[f'recall_at_fpr_{f:g}'] * 100:7.2f}%")
    for r in RECALL_POINTS:
        lines.append(f"  FPR at recall {r * 100:g}%          {m[f'fpr_at_recall_{r:g}'] * 100:7.3f}%")
    if "confusion" in m:
        c = m["confusion"]
        lines.append(f"  at threshold {m['threshold']:.4f}: recall {m['recall_at_threshold'] * 100:.2f}%, "
                     f"FPR {m['fpr_at_threshold'] * 100:.3f}%")
        lines.append("                 predicted+  predicted-")
        lines.append(f"    positive     {c['tp']:>10}  {c['fn']:>10}")
        lines.append(f"    negative     {c['fp']:>10}  {c['tn']:>10}")
    return "\n".join(lines)


def write_json(path: str | Path, report: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True, default=float) + "\n")


def write_plots(directory: str | Path, curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> list[Path]:
    """ROC curves (log FPR axis) and per-class score histograms, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (negative, positive, threshold) in curves.items():
        if not len(negative) or not len(positive):
            continue
        fig, (roc, hist) = plt.subplots(1, 2, figsize=(11, 4.2))
        thresholds = np.unique(np.concatenate([negative, positive]))[::-1]
        neg_sorted, pos_sorted = np.sort(negative), np.sort(positive)
        fpr = 1 - np.searchsorted(neg_sorted, thresholds, side="left") / len(negative)
        tpr = 1 - np.searchsorted(pos_sorted, thresholds, side="left") / len(positive)
        roc.plot(np.maximum(fpr, 1e-5), tpr, drawstyle="steps-post")
        roc.set_xscale("log")
        roc.set_xlim(1e-4, 1)
        roc.set_xlabel("false-positive rate (log)")
        roc.set_ylabel("recall")
        roc.set_title(f"{name}: ROC (AUC {roc_auc(negative, positive):.4f})")
        roc.grid(True, which="both", alpha=0.3)
        bins = np.linspace(0, 1, 51)
        hist.hist(negative, bins=bins, alpha=0.6, label=f"negative ({len(negative)})", log=True)
        hist.hist(positive, bins=bins, alpha=0.6, label=f"positive ({len(positive)})", log=True)
        hist.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.3f}")
        hist.set_xlabel("p")
        hist.set_title(f"{name}: scores per class")
        hist.legend()
        fig.tight_layout()
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
