#!/usr/bin/env python3
"""The spam head's 5-fold cross-validation with other learners on the same features.

  python scripts/cv_learners.py --corpora ../shared/corpora [--learners shipped svm1 ...]

Featurises the corpora of ``train_default_model.SOURCES`` once and, for each learner, fits the
spam head on four folds and scores the fifth (the folds of ``train_default_model.py``:
``split.fold_of``), then prints the figures of the pooled out-of-fold scores of the SpamAssassin
spam against its 4,150 ham, and the ham that set the 0.1 percent point. It answers "would
another learner do better on these features", which the shipped fit's own CV cannot.

Learners: ``shipped`` (``training.fit_head``: logistic C = 100 interpolated with the NB-scaled
fit), ``svmC`` (a linear SVM, squared hinge, scikit-learn's LinearSVC with that C), ``lrC``
(``fit_head`` with that C), ``betaB`` (``fit_head`` with NB-scaled share B), ``binary`` (the
shipped fit with every feature's value 1).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from train_default_model import FOLDS, SOURCES, C

from postwarden.classifiers.evaluation import head_metrics
from postwarden.classifiers.features import Featuriser, FeaturiserSettings
from postwarden.classifiers.training import (
    Example,
    fit_head,
    matrix,
    read_examples,
    sample_weights,
    training_rows,
)

_EXAMPLES: list[Example] = []  # set before the fold processes fork, so they inherit it unpickled


def _binary(rows: list[Example]) -> list[Example]:
    return [Example(e.source, e.group, e.label, e.bucket, e.indices, np.ones_like(e.values)) for e in rows]


def fit(rows: list[Example], learner: str, featuriser: Featuriser) -> tuple[np.ndarray, float]:
    """Weights and intercept of the spam head fitted by ``learner`` (the module docstring's names)."""
    if learner == "shipped":
        return fit_head(rows, "spam", featuriser, C)
    if learner == "binary":
        return fit_head(_binary(rows), "spam", featuriser, C)
    if learner.startswith("lr"):
        return fit_head(rows, "spam", featuriser, float(learner[2:]))
    if learner.startswith("beta"):
        return fit_head(rows, "spam", featuriser, C, nb_beta=float(learner[4:]))
    if learner.startswith("svm"):
        from sklearn.svm import LinearSVC

        y, w = sample_weights(rows, ("spam",))
        svm = LinearSVC(C=float(learner[3:]), max_iter=20_000, tol=1e-6)
        svm.fit(matrix(rows, featuriser.dimension), y, sample_weight=w)
        return svm.coef_[0], float(svm.intercept_[0])
    raise SystemExit(f"cv_learners: unknown learner {learner!r}")


def _fold(args: tuple[int, str]) -> list[tuple[str, float]]:
    k, learner = args
    featuriser = Featuriser(FeaturiserSettings())
    train = [e for e in _EXAMPLES if e.bucket % FOLDS != k]
    held = [e for e in _EXAMPLES if e.bucket % FOLDS == k]
    weights, intercept = fit(training_rows(train, "spam"), learner, featuriser)
    if learner == "binary":
        held = _binary(held)
    return [(e.source, float(np.dot(weights[e.indices], e.values)) + intercept) for e in held]


def cross_validate(learner: str, jobs: int) -> dict[str, float]:
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        folds = pool.map(_fold, [(k, learner) for k in range(FOLDS)])
        return dict(pair for scores in folds for pair in scores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpora", default="../shared/corpora")
    parser.add_argument("--learners", nargs="+", default=["shipped", "svm1", "svm10", "lr1000", "beta0.8",
                                                          "binary"])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    corpora = Path(args.corpora)
    _EXAMPLES[:] = read_examples([(label, str(corpora / path)) for label, path in SOURCES],
                                 FeaturiserSettings(), jobs=args.jobs)
    ham = [e for e in _EXAMPLES if e.label == "ham" and "/spamassassin/" in e.group]
    spam = [e for e in _EXAMPLES if e.label == "spam"]
    print("| learner | ROC AUC | recall @ 0.1 % | @ 0.5 % | @ 1 % | FPR @ 99 % | ham over the 0.1 % point |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for learner in args.learners:
        started = time.monotonic()
        oof = cross_validate(learner, args.jobs)
        negative = np.array([oof[e.source] for e in ham])
        m = head_metrics(negative, np.array([oof[e.source] for e in spam]), None)
        allowed = int(0.001 * len(ham))
        # "hard_ham/00203": the corpus file of the message, without its digest
        over = sorted(((oof[e.source], e.source.rsplit(":", 1)[-1].split(".")[0]) for e in ham),
                      reverse=True)[:allowed + 1]
        print(f"| {learner} | {m['roc_auc']:.5f} | {m['recall_at_fpr_0.001']:.2%} | "
              f"{m['recall_at_fpr_0.005']:.2%} | {m['recall_at_fpr_0.01']:.2%} | "
              f"{m['fpr_at_recall_0.99']:.3%} | "
              + ", ".join(f"{name} {score:.2f}" for score, name in over) + " |", flush=True)
        print(f"{learner}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
