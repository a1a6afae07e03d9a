#!/usr/bin/env python3
"""Train the shipped default model from the public corpora, and measure it. Reproducible:
the same corpora give the same split, the same weights and the same figures.

  python scripts/train_default_model.py --corpora ../shared/corpora

Writes postwarden/data/models/default.joblib and default-report.json beside it, and prints
the README table. Data: SpamAssassin ham (easy_ham, easy_ham_2, hard_ham) and Enron sent mail
as ham, SpamAssassin spam (spam, spam_2) as spam, Nazario's phishing as phishing. Figures:

- test split: the shipped model on the 15 percent of messages it never saw;
- 5-fold cross-validation: every message scored by a model that did not train on it (folds by
  the same hash, ``split.fold_of``), pooled; this has enough ham to measure 0.1 percent FPR.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from postwarden.classifiers.evaluation import head_metrics
from postwarden.classifiers.features import Featuriser, FeaturiserSettings
from postwarden.classifiers.model_file import SHIPPED_DIR, Head
from postwarden.classifiers.text_cli import evaluate_examples
from postwarden.classifiers.training import (
    HEAD_POSITIVES,
    decision,
    fit_head,
    read_examples,
    train_model,
    training_rows,
)

SA = "spamassassin"
SOURCES = [
    ("ham", f"{SA}/20030228_easy_ham.tar.bz2"), ("ham", f"{SA}/20030228_easy_ham_2.tar.bz2"),
    ("ham", f"{SA}/20030228_hard_ham.tar.bz2"), ("spam", f"{SA}/20030228_spam.tar.bz2"),
    ("spam", f"{SA}/20050311_spam_2.tar.bz2"), ("phish", "nazario-phishing/phishing0.mbox.gz"),
    ("phish", "nazario-phishing/phishing1.mbox.gz"),
    ("phish", "nazario-phishing/nazario-phishing-2015-2018.mbox.gz"),
    ("ham", "enron-sent/enron-sent.tar.gz"),
]
C = 100.0  # 5-fold CV: 30 and 300 did no better
MAX_WEIGHTS = 200_000
FOLDS = 5


def views(examples, scores_of):
    """The issue's figures: SA spam vs SA ham, phishing vs SA ham, and FPR on Enron."""
    out = {}
    sa_ham = [e for e in examples if e.label == "ham" and "/spamassassin/" in e.group]
    enron = [e for e in examples if e.label == "ham" and "enron" in e.group]
    spam = [e for e in examples if e.label == "spam"]
    phish = [e for e in examples if e.label == "phish"]
    for name, head, neg, pos in (("sa_spam_vs_sa_ham", "spam", sa_ham, spam),
                                 ("phish_vs_sa_ham", "phish", sa_ham, phish),
                                 ("spam_vs_all_ham", "spam", sa_ham + enron, spam),
                                 ("phish_vs_all_ham", "phish", sa_ham + enron, phish)):
        n, p, threshold = scores_of(head, neg), scores_of(head, pos), None
        out[name] = head_metrics(n, p, threshold)
    for head in ("spam", "phish"):
        out[f"enron_scores_{head}"] = scores_of(head, enron)
    return out


_EXAMPLES: list = []  # set before the fold processes fork, so they inherit it unpickled


def _fit_fold(args):
    k, settings = args
    examples = _EXAMPLES
    featuriser = Featuriser(settings)
    train = [e for e in examples if e.bucket % FOLDS != k]
    held = [e for e in examples if e.bucket % FOLDS == k]
    scores = {}
    for head in HEAD_POSITIVES:
        w, b = fit_head(training_rows(train, head), head, featuriser, C)
        model_head = Head(head, w, b)
        scores[head] = dict(zip((id(e) for e in held), decision(model_head, held), strict=True))
    return k, {h: [s[id(e)] for e in held] for h, s in scores.items()}, [e.source for e in held]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpora", default="../shared/corpora")
    parser.add_argument("--output", default=str(SHIPPED_DIR / "default.joblib"))
    parser.add_argument("--no-cv", action="store_true", help="skip the 5-fold cross-validation")
    args = parser.parse_args()
    corpora = Path(args.corpora)
    settings = FeaturiserSettings()
    started = time.monotonic()
    examples = read_examples([(label, str(corpora / path)) for label, path in SOURCES], settings,
                             jobs=2, progress=print)
    print(f"featurised {len(examples)} in {time.monotonic() - started:.0f}s", flush=True)
    # The featuriser's version in the name: two models of one day but of different featurisers
    # are not interchangeable (``OutdatedModel``), so they must not share a name.
    version = f"default-{time.strftime('%Y%m%d', time.gmtime())}-f{settings.version}"
    model = train_model(examples, settings, C=C, max_weights=MAX_WEIGHTS, version=version,
                        progress=print)
    model.info["training"]["sources"] = [(label, path) for label, path in SOURCES]
    path = model.save(args.output, max_weights=MAX_WEIGHTS)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", flush=True)

    test = [e for e in examples if e.split == "test"]
    test_report, _ = evaluate_examples(model, test)

    def prob_scores(head, rows):
        return model.heads[head].probabilities(decision(model.heads[head], rows)) if rows else np.zeros(0)

    test_views = views(test, prob_scores)
    for head in ("spam", "phish"):
        t = model.heads[head].threshold
        enron = test_views.pop(f"enron_scores_{head}")
        test_views[f"enron_fpr_at_threshold_{head}"] = float(np.mean(enron >= t))
    sa_ham = [e for e in test if e.label == "ham" and "/spamassassin/" in e.group]
    for name, head, pos_label in (("sa_spam_vs_sa_ham", "spam", "spam"),
                                  ("phish_vs_sa_ham", "phish", "phish")):
        pos = [e for e in test if e.label == pos_label]
        test_views[name] = head_metrics(prob_scores(head, sa_ham), prob_scores(head, pos),
                                        model.heads[head].threshold)
    report = {"model": model.version, "validation": model.info["validation"], "test": test_views,
              "test_all_heads": test_report, "thresholds": {h: hd.threshold for h, hd in model.heads.items()}}

    if not args.no_cv:
        started = time.monotonic()
        oof: dict[str, dict[str, float]] = {h: {} for h in HEAD_POSITIVES}
        _EXAMPLES[:] = examples
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            for k, scores, sources in pool.map(_fit_fold, [(k, settings) for k in range(FOLDS)]):
                for head, values in scores.items():
                    oof[head].update(zip(sources, values, strict=True))
                print(f"fold {k} done", flush=True)
        cv_views = views(examples, lambda head, rows: np.array([oof[head][e.source] for e in rows]))
        for head in ("spam", "phish"):
            cv_views.pop(f"enron_scores_{head}")
        report["cv"] = cv_views
        print(f"cross-validation in {time.monotonic() - started:.0f}s", flush=True)
    report_path = Path(args.output).with_name(Path(args.output).stem + "-report.json")
    report_path.write_text(json.dumps(report, indent=2, sort_keys=True, default=float) + "\n")
    print(f"wrote {report_path}")
    print(markdown(report))
    return 0


def markdown(report) -> str:
    rows = [("sa_spam_vs_sa_ham", "spam vs ham (SpamAssassin corpus)"),
            ("phish_vs_sa_ham", "phishing vs SpamAssassin ham")]
    lines = ["| figure | data | test split | 5-fold CV (out of fold) |", "| --- | --- | ---: | ---: |"]
    for key, label in rows:
        for metric, fmt, name in (("roc_auc", "{:.5f}", "ROC AUC"),
                                  ("recall_at_fpr_0.001", "{:.2%}", "recall at 0.1% FPR"),
                                  ("recall_at_fpr_0.005", "{:.2%}", "recall at 0.5% FPR"),
                                  ("recall_at_fpr_0.01", "{:.2%}", "recall at 1% FPR"),
                                  ("fpr_at_recall_0.95", "{:.3%}", "FPR at 95% recall"),
                                  ("fpr_at_recall_0.99", "{:.3%}", "FPR at 99% recall")):
            test = fmt.format(report["test"][key][metric])
            cv = fmt.format(report["cv"][key][metric]) if "cv" in report else "-"
            lines.append(f"| {name} | {label} | {test} | {cv} |")
    for head in ("spam", "phish"):
        threshold = report["thresholds"][head]
        lines.append(f"| Enron FPR at the {head} threshold ({threshold:.3f}) | Enron sent mail "
                     f"| {report['test'][f'enron_fpr_at_threshold_{head}']:.3%} | - |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
