from __future__ import annotations

import math

import numpy as np
import pytest

from postwarden.classifiers.evaluation import confusion, fpr_at_recall, head_metrics, recall_at_fpr, roc_auc


def test_auc_counts_ties_half() -> None:
    assert roc_auc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert roc_auc(np.array([0.5]), np.array([0.5])) == 0.5
    assert roc_auc(np.array([0.1, 0.6]), np.array([0.5, 0.9])) == 0.75


def test_recall_at_fpr_is_conservative() -> None:
    negative = np.linspace(0, 0.5, 1000)  # 1000 ham: 0.1 percent allows one false positive
    positive = np.array([0.499, 0.4994, 0.6, 0.7])
    # the threshold is the second-highest ham (0.49950); only scores strictly above count
    assert recall_at_fpr(negative, positive, 0.001) == 0.5
    assert recall_at_fpr(negative, positive, 0.0) == 0.5
    assert recall_at_fpr(negative, np.array([0.5, 0.9]), 0.0) == 0.5  # a tie with a ham is no catch


def test_fpr_at_recall_and_confusion() -> None:
    negative = np.array([0.1, 0.2, 0.3, 0.8])
    positive = np.array([0.9, 0.85, 0.7, 0.6])
    assert fpr_at_recall(negative, positive, 0.5) == 0.0
    assert fpr_at_recall(negative, positive, 0.99) == 0.25
    assert confusion(negative, positive, 0.75) == {"tp": 2, "fn": 2, "fp": 1, "tn": 3}


def test_head_metrics_has_every_figure() -> None:
    m = head_metrics(np.array([0.1, 0.2]), np.array([0.9]), threshold=0.5)
    for key in ("roc_auc", "recall_at_fpr_0.001", "recall_at_fpr_0.01", "fpr_at_recall_0.95",
                "fpr_at_recall_0.99", "confusion", "fpr_at_threshold", "recall_at_threshold"):
        assert key in m
    assert m["recall_at_threshold"] == 1.0 and m["fpr_at_threshold"] == 0.0


@pytest.mark.parametrize("empty", ["negative", "positive"])
def test_missing_class_gives_nan_auc(empty: str) -> None:
    values = {"negative": np.array([0.1]), "positive": np.array([0.9])}
    values[empty] = np.array([])
    assert math.isnan(roc_auc(values["negative"], values["positive"]))
