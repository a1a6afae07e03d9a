#!/usr/bin/env python3
"""How the text models carry over to mail of another year or source, side by side with bogofilter.

  python scripts/eval_across_years.py --corpora ../shared/corpora [--json FILE]

The random split of ``split.py`` puts messages of one campaign, one mailing list and one year
on both sides, so its figures say how well a model knows the mail it was trained on. Mail in a
deployment is of other years and sources. Each experiment here trains on one part of the
corpora and tests on a part it never saw, and trains bogofilter on the same messages.

Across years (test: all of the other collection, against the SpamAssassin ham of the test split;
also the false-positive rate on the Enron mail of the test split):

  phishing 2004-05 -> 2015-18   phishing head from phishing0/phishing1, tested on the 694 of 2015-2018
  phishing 2015-18 -> 2004-05   the reverse: the 870 of 2004-2005
  spam -> spam_2                spam head from ``spam`` (2002), tested on the 1,396 of ``spam_2``
  spam_2 -> spam                the reverse (``spam_2`` is mostly 2001-2002: a change of collection
                                more than of year)

Across sources of ham (each head trained without one source of ham, which is then its only test
ham, all of it: the easy ham, both folders, 3,900; hard_ham, 250; Enron, 38,890):
the false-positive rate at the filter's own threshold is what a deployment whose mail is unlike
any the filter learnt from would see, and the test split's recall at that threshold shows it was
not bought by a higher threshold.

Corrections: for five of the experiments each filter is then given its own first k mistakes
(k = 5, 10, 25, 50, in a fixed random order), as an operator moving misjudged mail would:
postwarden through ``postwarden learn``'s code (which learns the corrections in the train
buckets, about 70 percent, and holds the rest out to check itself on, as deployed; forced, so
that a refusal does not hide the figure), bogofilter by training on all k. Printed: the error
corrected, on the messages not fed, and the other class's error (misses in the test split after
ham was fed; false positives on the test-split ham, SpamAssassin and Enron, after positives were).

Ham otherwise comes from the usual split (train and validation split to learn, calibrate and set
thresholds, the test split to measure). The model learns, calibrates and sets its thresholds as
the shipped one does (``training.train_model``: positives of the train split, Platt scaling and
thresholds on the validation split); bogofilter learns the same train split and uses its
default ``spam_cutoff`` 0.99. Every filter sees the message without other filters' verdict
headers.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from compare_peers import bogofilter_score, bogofilter_train
from train_default_model import MAX_WEIGHTS, SA, SOURCES, C

from postwarden.classifiers.evaluation import head_metrics
from postwarden.classifiers.features import FeaturiserSettings
from postwarden.classifiers.learning import learn
from postwarden.classifiers.model_file import TextModel
from postwarden.classifiers.split import TEST, TRAIN
from postwarden.classifiers.text_hygiene import clean_raw
from postwarden.classifiers.training import HEAD_NEGATIVES, Example, decision, read_examples, train_model
from postwarden.sources import read_messages

PHISH_OLD = ("nazario-phishing/phishing0.mbox.gz", "nazario-phishing/phishing1.mbox.gz")
PHISH_NEW = ("nazario-phishing/nazario-phishing-2015-2018.mbox.gz",)
SPAM_1 = (f"{SA}/20030228_spam.tar.bz2",)
SPAM_2 = (f"{SA}/20050311_spam_2.tar.bz2",)
EASY_HAM = (f"{SA}/20030228_easy_ham.tar.bz2", f"{SA}/20030228_easy_ham_2.tar.bz2")
HARD_HAM = (f"{SA}/20030228_hard_ham.tar.bz2",)
ENRON = ("enron-sent/enron-sent.tar.gz",)
BOGOFILTER_CUTOFF = 0.99  # bogofilter's default spam_cutoff


@dataclass(frozen=True)
class Experiment:
    """One head trained on ``learn``'s positives and the ham not in ``left_out`` (the phishing
    head also on all the spam, as the shipped one: ``HEAD_NEGATIVES``); tested on all of
    ``tested`` (a later or earlier collection) or, when a ham source is left out, on that ham."""

    name: str
    head: str
    learn: tuple[str, ...]
    tested: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()


EXPERIMENTS = (
    Experiment("phishing 2004-05 -> 2015-18", "phish", PHISH_OLD, tested=PHISH_NEW),
    Experiment("phishing 2015-18 -> 2004-05", "phish", PHISH_NEW, tested=PHISH_OLD),
    Experiment("spam -> spam_2", "spam", SPAM_1, tested=SPAM_2),
    Experiment("spam_2 -> spam", "spam", SPAM_2, tested=SPAM_1),
    Experiment("spam head, Enron left out", "spam", SPAM_1 + SPAM_2, left_out=ENRON),
    Experiment("spam head, easy ham left out", "spam", SPAM_1 + SPAM_2, left_out=EASY_HAM),
    Experiment("spam head, hard_ham left out", "spam", SPAM_1 + SPAM_2, left_out=HARD_HAM),
    Experiment("phishing head, Enron left out", "phish", PHISH_OLD + PHISH_NEW, left_out=ENRON),
    Experiment("phishing head, easy ham left out", "phish", PHISH_OLD + PHISH_NEW, left_out=EASY_HAM),
    Experiment("phishing head, hard_ham left out", "phish", PHISH_OLD + PHISH_NEW, left_out=HARD_HAM),
)
# key, title, format; the first group for a held-out collection of positives, the second for a
# held-out source of ham
ACROSS_YEARS = (("roc_auc", "ROC AUC", "{:.5f}"), ("recall_at_fpr_0.001", "recall @ 0.1 % FPR", "{:.2%}"),
                ("recall_at_fpr_0.005", "recall @ 0.5 % FPR", "{:.2%}"),
                ("recall_at_fpr_0.01", "recall @ 1 % FPR", "{:.2%}"),
                ("recall_at_threshold", "recall @ own threshold", "{:.2%}"),
                ("fpr_at_threshold", "SpamAssassin ham FPR @ own threshold", "{:.2%}"),
                ("enron_fpr_at_threshold", "Enron FPR @ own threshold", "{:.3%}"))
ACROSS_SOURCES = (("fpr_at_threshold", "left-out ham FPR @ own threshold", "{:.2%}"),
                  ("recall_at_threshold", "test-split recall @ own threshold", "{:.2%}"))


def _from(example: Example, paths: tuple[str, ...]) -> bool:
    return any(example.group.endswith(p) for p in paths)


def _learns(example: Example, x: Experiment) -> bool:
    """Whether the experiment's model (and bogofilter) may learn from this example."""
    if example.label == "ham":
        return not _from(example, x.left_out)
    if example.label == x.head:
        return _from(example, x.learn)
    return example.label in HEAD_NEGATIVES[x.head]  # the phishing head's spam (bogofilter: none)


def train(examples: list[Example], x: Experiment, settings: FeaturiserSettings) -> TextModel:
    """The model learns, calibrates and sets its threshold as the shipped one does."""
    return train_model([e for e in examples if _learns(e, x)], settings, C=C, max_weights=MAX_WEIGHTS,
                       version="across-years")


def model_scores(model: TextModel, head: str, examples: list[Example]) -> dict[str, float]:
    fitted = model.heads[head]
    probabilities = fitted.probabilities(decision(fitted, examples))
    return dict(zip((e.source for e in examples), probabilities.tolist(), strict=True))


def bogofilter_database(home: Path, raws: dict[str, bytes], examples: list[Example], x: Experiment) -> None:
    """bogofilter trained on the train split the model learnt from (it has no validation step)."""
    learnt = [e for e in examples if e.split == TRAIN and _learns(e, x)]
    bogofilter_train(home, [raws[e.source] for e in learnt if e.label == x.head], "-s")
    bogofilter_train(home, [raws[e.source] for e in learnt if e.label == "ham"], "-n")


def test_sets(examples: list[Example], x: Experiment) -> tuple[list[str], list[str], list[str]]:
    """The negatives, the positives and the Enron mail an experiment is measured on: the test
    split of what it learnt from, and all of a held-out collection or source of ham."""
    if x.left_out:
        negatives = [e.source for e in examples if e.label == "ham" and _from(e, x.left_out)]
    else:
        negatives = [e.source for e in examples
                     if e.label == "ham" and e.split == TEST and not _from(e, ENRON)]
    positives = [e.source for e in examples if e.label == x.head
                 and (_from(e, x.tested) if x.tested else e.split == TEST)]
    enron = [e.source for e in examples if e.label == "ham" and e.split == TEST and _from(e, ENRON)]
    return negatives, positives, enron


def figures(scores: dict[str, float], threshold: float, negatives: list[str], positives: list[str],
            enron: list[str]) -> dict:
    out = head_metrics(np.array([scores[s] for s in negatives]), np.array([scores[s] for s in positives]),
                       threshold)
    out["enron_fpr_at_threshold"] = float(np.mean([scores[s] >= threshold for s in enron]))
    return out


# Experiments whose mistakes an operator then corrects with ``postwarden learn``, and how many
# corrections (cumulative: the first 5 are among the first 10).
FEEDBACK = ("spam head, hard_ham left out", "spam head, easy ham left out",
            "phishing head, Enron left out", "phishing 2004-05 -> 2015-18", "spam -> spam_2")
FEEDBACK_ROUNDS = (5, 10, 25, 50)


def mistakes(scores: dict[str, float], threshold: float, x: Experiment, negatives: list[str],
             positives: list[str]) -> list[str]:
    """What an operator would correct, in a fixed random order: the held-out ham the filter
    flags, or the messages of the held-out collection it lets through."""
    wrong = ([s for s in negatives if scores[s] >= threshold] if x.left_out
             else [s for s in positives if scores[s] < threshold])
    random.Random(1).shuffle(wrong)
    return wrong


def after_feedback(scores: dict[str, float], threshold: float, x: Experiment, fed: set[str],
                   negatives: list[str], positives: list[str], enron: list[str]) -> tuple[float, float]:
    """The error the corrections were about, on the messages not fed (false positives on the
    left-out ham, or misses in the held-out collection), and the other class's error rate."""
    def rate(names: list[str], flagged: bool) -> float:
        rest = [s for s in names if s not in fed]
        return float(np.mean([(scores[s] >= threshold) == flagged for s in rest])) if rest else float("nan")

    if x.left_out:
        return rate(negatives, True), rate(positives, False)
    return rate(positives, False), rate(negatives + enron, True)


def feedback_rows(x: Experiment, examples: list[Example], by_name: dict[str, Example], model: TextModel,
                  home: Path, raws: dict[str, bytes], sets: tuple[list[str], list[str], list[str]],
                  ours: dict[str, float], bogo: dict[str, float]) -> list[dict]:
    """Each filter corrected with its own first k mistakes: postwarden through ``learn`` (which
    learns the corrections in the train buckets and keeps the rest to check itself on, as in a
    deployment; forced, so a refusal does not hide the figure), bogofilter by training on all k."""
    negatives, positives, enron = sets
    threshold = model.heads[x.head].threshold
    wrong = {"postwarden": mistakes(ours, threshold, x, negatives, positives),
             "bogofilter": mistakes(bogo, BOGOFILTER_CUTOFF, x, negatives, positives)}
    label = "ham" if x.left_out else x.head
    measured = [(s, raws[s]) for s in sorted(set(negatives) | set(positives) | set(enron))]
    rows = []
    for k in FEEDBACK_ROUNDS:
        row: dict = {"corrections": k}
        fed = wrong["postwarden"][:k]
        feedback = [by_name[s] for s in fed]
        learnt, report = learn(model, feedback, [], margin=1.0, force=True)
        scores = model_scores(learnt, x.head, [by_name[s] for s, _ in measured])
        row["postwarden"] = (len(fed), report.learned, *after_feedback(scores, threshold, x, set(fed),
                                                                     negatives, positives, enron))
        fed = wrong["bogofilter"][:k]
        copy = home.with_name(home.name + "-fed")
        shutil.copytree(home, copy)
        try:
            bogofilter_train(copy, [raws[s] for s in fed], "-n" if label == "ham" else "-s")
            scores = bogofilter_score(copy, measured)
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        row["bogofilter"] = (len(fed), len(fed), *after_feedback(scores, BOGOFILTER_CUTOFF, x, set(fed),
                                                               negatives, positives, enron))
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpora", default="../shared/corpora")
    parser.add_argument("--json", help="also write every figure there")
    args = parser.parse_args()
    if not shutil.which("bogofilter"):
        print("bogofilter is not installed (Debian package bogofilter)", file=sys.stderr)
        return 2
    corpora = Path(args.corpora)
    sources = [(label, str(corpora / path)) for label, path in SOURCES]
    started = time.monotonic()
    settings = FeaturiserSettings()
    examples = read_examples(sources, settings, jobs=2)
    raws = {m.source: clean_raw(m.raw, verdicts_only=True) for m in read_messages([p for _, p in sources])}
    print(f"featurised {len(examples)} messages in {time.monotonic() - started:.0f}s", file=sys.stderr)
    by_name = {e.source: e for e in examples}
    report, lines, feedback_lines = {}, [], []
    for x in EXPERIMENTS:
        sets = negatives, positives, enron = test_sets(examples, x)
        model = train(examples, x, settings)
        threshold = model.heads[x.head].threshold
        measured = sorted(set(negatives) | set(positives) | set(enron))
        ours = model_scores(model, x.head, [by_name[s] for s in measured])
        home = Path(tempfile.mkdtemp(prefix="pw-bogo-"))
        try:
            bogofilter_database(home, raws, examples, x)
            bogo = bogofilter_score(home, [(s, raws[s]) for s in measured])
            report[x.name] = {"postwarden": figures(ours, threshold, negatives, positives, enron),
                              "bogofilter": figures(bogo, BOGOFILTER_CUTOFF, negatives, positives, enron),
                              "test": {"negatives": len(negatives), "positives": len(positives)}}
            if x.name in FEEDBACK:
                report[x.name]["feedback"] = feedback_rows(x, examples, by_name, model, home, raws, sets,
                                                           ours, bogo)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        print(f"{x.name} done ({time.monotonic() - started:.0f}s)", file=sys.stderr)
        for key, title, fmt in ACROSS_SOURCES if x.left_out else ACROSS_YEARS:
            cells = [fmt.format(report[x.name][f][key]) for f in ("postwarden", "bogofilter")]
            lines.append(f"| {x.name} ({len(negatives)} ham, {len(positives)} positives) | {title} "
                         f"| {cells[0]} | {cells[1]} |")
        what = ("false positives on the rest of it", "misses in the test split") if x.left_out else \
            ("misses in the rest of it", "false positives on the test-split ham")
        for row in report[x.name].get("feedback", []):
            cells = [f"{row[f][0]} ({row[f][1]} learnt) | {row[f][2]:.2%} | {row[f][3]:.2%}"
                     for f in ("postwarden", "bogofilter")]
            feedback_lines.append(f"| {x.name}: {what[0]}; {what[1]} | {row['corrections']} | "
                                  + " | ".join(cells) + " |")
    print("| experiment (test set) | figure | postwarden | bogofilter |\n| --- | --- | ---: | ---: |")
    print("\n".join(lines))
    print("\nCorrections fed back (each filter its own first mistakes):\n")
    print("| experiment: error corrected; other error | corrections | postwarden fed | error | other "
          "| bogofilter fed | error | other |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(feedback_lines))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
