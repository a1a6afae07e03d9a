#!/usr/bin/env python3
"""postwarden's models side by side with bogofilter and SpamAssassin, on the same test split.

Stages (each caches its scores under --work, so a slow stage runs once):

  peers  bogofilter trained on the train split of the SpamAssassin corpus (ham and spam
         folders) and on the train split of the phishing corpus, then scoring the test split;
         SpamAssassin's own rules (spamd -L: local tests only, Bayes off) scoring the test split.
  table  the model's scores on the same messages and one table of every figure for all three.

Every program sees the same bytes: the message without other filters' verdict headers
(text_hygiene.clean_raw(verdicts_only=True)); postwarden's featuriser then ignores the rest of
its strip list itself. SpamAssassin runs as `spamd -L` (local tests, Bayes off):

  mkdir /tmp/sa-site && cp -r /etc/spamassassin/* /tmp/sa-site/
  printf 'use_bayes 0\nbayes_auto_learn 0\n' >> /tmp/sa-site/local.cf
  spamd -L --siteconfigpath=/tmp/sa-site -x -u nobody -i 127.0.0.1 -p 17830 -m 2 -d

Usage:

  python scripts/compare_peers.py peers --corpora ../shared/corpora --work /tmp/pw-peers
  python scripts/compare_peers.py table --corpora ../shared/corpora --work /tmp/pw-peers \
      --model postwarden/data/models/default.joblib
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from train_default_model import SA, SOURCES

from postwarden.classifiers.split import TEST, TRAIN, split_of
from postwarden.classifiers.text_hygiene import clean_raw
from postwarden.sources import read_messages


def corpus_sets(corpora: Path) -> dict[str, list[Path]]:
    """The shipped model's corpora (train_default_model.SOURCES) but the Enron ham: the table
    compares the three filters on the SpamAssassin ham, which is all the peers learn from."""
    return {label: [corpora / path for lab, path in SOURCES
                    if lab == label and (label != "ham" or path.startswith(SA))]
            for label in ("ham", "spam", "phish")}


def load(paths: list[Path], split: str) -> list[tuple[str, bytes]]:
    """Messages of one split, without other filters' verdict headers (X-Spam-* and the like)."""
    return [(m.source, clean_raw(m.raw, verdicts_only=True)) for m in read_messages([str(p) for p in paths])
            if split_of(m.raw) == split]


def bogofilter_train(home: Path, messages: list[bytes], flag: str) -> None:
    """Add messages to the bogofilter database in ``home``: ``-s`` as spam, ``-n`` as ham."""
    mbox = home / "train.mbox"
    with mbox.open("wb") as out:
        for raw in messages:
            out.write(b"From bogo@example.invalid Thu Jan  1 00:00:00 1970\n")
            out.write(raw.replace(b"\nFrom ", b"\n>From "))
            out.write(b"\n\n")
    subprocess.run(["bogofilter", "-d", str(home), flag, "-M", "-I", str(mbox)], check=True)
    mbox.unlink()


def bogofilter_score(home: Path, test: list[tuple[str, bytes]]) -> dict[str, float]:
    """Spamicity of each ``(name, raw)`` by the database in ``home`` (one bulk run, ``-B``)."""
    files = Path(tempfile.mkdtemp(prefix="pw-bogo-msgs-"))
    try:
        paths = {}
        for i, (source, raw) in enumerate(test):
            path = files / str(i)
            path.write_bytes(raw)
            paths[str(path)] = source
        scores: dict[str, float] = {}
        names = list(paths)
        for start in range(0, len(names), 500):
            result = subprocess.run(["bogofilter", "-d", str(home), "-T", "-B", *names[start:start + 500]],
                                    capture_output=True, check=False)
            if result.returncode == 3:  # 0-2 are the last message's class; 3 an error
                raise RuntimeError(f"bogofilter failed: {result.stderr.decode(errors='replace')}")
            for line in result.stdout.decode().splitlines():  # "<file> <class> <spamicity>"
                path, _, spamicity = line.rsplit(" ", 2)
                scores[paths[path]] = float(spamicity)
        return scores
    finally:
        shutil.rmtree(files, ignore_errors=True)


def bogofilter_scores(train: dict[str, list[bytes]], test: list[tuple[str, bytes]],
                      positive: str) -> dict[str, float]:
    """bogofilter trained on ``train[positive]`` as spam and ``train["ham"]``, scoring ``test``."""
    home = Path(tempfile.mkdtemp(prefix="pw-bogo-"))
    try:
        bogofilter_train(home, train[positive], "-s")
        bogofilter_train(home, train["ham"], "-n")
        return bogofilter_score(home, test)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _spamc(raw: bytes, port: int) -> float:
    result = subprocess.run(["spamc", "-p", str(port), "-s", "4000000", "-c"], input=raw,
                            capture_output=True, check=False, timeout=300)
    return float(result.stdout.decode().split("/")[0])


def stage_peers(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sets = corpus_sets(Path(args.corpora))
    train = {label: [raw for _, raw in load(paths, TRAIN)] for label, paths in sets.items()}
    test = {label: load(paths, TEST) for label, paths in sets.items()}
    print({k: len(v) for k, v in train.items()}, {k: len(v) for k, v in test.items()}, flush=True)
    bogo = {
        "spam": bogofilter_scores(train, test["ham"] + test["spam"], "spam"),
        "phish": bogofilter_scores(train, test["ham"] + test["phish"], "phish"),
    }
    (work / "bogofilter.json").write_text(json.dumps(bogo))
    print("bogofilter done", flush=True)
    messages = test["ham"] + test["spam"] + test["phish"]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        values = list(pool.map(lambda item: _spamc(item[1], args.spamd_port), messages))
    (work / "spamassassin.json").write_text(json.dumps({s: v for (s, _), v in zip(messages, values,
                                                                                     strict=True)}))
    print("spamassassin done", flush=True)


DEFAULT_THRESHOLDS = {"bogofilter": 0.99, "spamassassin": 5.0}  # bogofilter spam_cutoff, SA required_score


def _model_scores(model_path: str, messages: list[tuple[str, bytes]]) -> dict[str, dict[str, float]]:
    from postwarden.classifiers.model_file import load_model
    from postwarden.message import parse_message

    model = load_model(model_path, [Path(model_path).resolve().parent])
    out: dict[str, dict[str, float]] = {"spam": {}, "phish": {}, "threshold": {}}
    for source, raw in messages:
        scores = model.score(parse_message(raw))
        out["spam"][source] = scores["spam"].probability
        out["phish"][source] = scores["phish"].probability
    out["threshold"] = {h: model.heads[h].threshold for h in ("spam", "phish")}
    out["version"] = model.version  # type: ignore[assignment]
    return out


def stage_table(args: argparse.Namespace) -> None:
    import numpy as np

    from postwarden.classifiers.evaluation import head_metrics

    work = Path(args.work)
    sets = corpus_sets(Path(args.corpora))
    test = {label: load(paths, TEST) for label, paths in sets.items()}
    bogo = json.loads((work / "bogofilter.json").read_text())
    sa = json.loads((work / "spamassassin.json").read_text())
    model = _model_scores(args.model, test["ham"] + test["spam"] + test["phish"])
    tasks = (("spam", "spam vs ham (SpamAssassin corpus)"), ("phish", "phishing vs SpamAssassin ham"))
    figures = (("roc_auc", "ROC AUC", "{:.5f}"), ("recall_at_fpr_0.001", "recall at 0.1% FPR", "{:.2%}"),
               ("recall_at_fpr_0.005", "recall at 0.5% FPR", "{:.2%}"),
               ("recall_at_fpr_0.01", "recall at 1% FPR", "{:.2%}"),
               ("fpr_at_recall_0.95", "FPR at 95% recall", "{:.3%}"),
               ("fpr_at_recall_0.99", "FPR at 99% recall", "{:.3%}"),
               ("recall_at_threshold", "recall at own default threshold", "{:.2%}"),
               ("fpr_at_threshold", "FPR at own default threshold", "{:.3%}"))
    report = {}
    lines = [f"Test split: {len(test['ham'])} ham, {len(test['spam'])} spam, {len(test['phish'])} phishing "
             f"(model {model['version']}).", "",
             "| task | figure | postwarden | bogofilter | SpamAssassin -L |",
             "| --- | --- | ---: | ---: | ---: |"]
    for task, label in tasks:
        systems = {
            "postwarden": (model[task], model["threshold"][task]),
            "bogofilter": (bogo[task], DEFAULT_THRESHOLDS["bogofilter"]),
            "spamassassin": (sa, DEFAULT_THRESHOLDS["spamassassin"]),
        }
        report[task] = {}
        for name, (scores, threshold) in systems.items():
            neg = np.array([scores[s] for s, _ in test["ham"]])
            pos = np.array([scores[s] for s, _ in test[task]])
            report[task][name] = head_metrics(neg, pos, threshold)
        for key, title, fmt in figures:
            cells = [fmt.format(report[task][n][key]) for n in ("postwarden", "bogofilter", "spamassassin")]
            lines.append(f"| {label} | {title} | " + " | ".join(cells) + " |")
    (work / "comparison.json").write_text(json.dumps(report, indent=2, default=float))
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("stage", choices=("peers", "table"))
    parser.add_argument("--corpora", default=os.path.join("..", "shared", "corpora"))
    parser.add_argument("--work", default="/tmp/pw-peers")
    parser.add_argument("--model", default="postwarden/data/models/default.joblib")
    parser.add_argument("--spamd-port", type=int, default=17830,
                        help="a running `spamd -L` (see BENCHMARKS.md for its flags)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.stage == "peers":
        stage_peers(args)
    else:
        stage_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
