#!/usr/bin/env python3
"""postwarden's models side by side with bogofilter and SpamAssassin, on the same test split.

Stages (each caches its scores under --work, so a slow stage runs once):

  peers  bogofilter trained on the train split of the SpamAssassin corpus (ham and spam
         folders) and on the train split of the phishing corpus, then scoring the test split;
         SpamAssassin's own rules (spamd -L: local tests only, Bayes off) scoring the test split.
  table  the model's scores on the same messages and one table of every figure for all three.

Every program sees the same bytes: the message without other filters' verdict headers
(text_hygiene.clean_raw(verdicts_only=True)); postwarden's featuriser then ignores the rest of
its strip list itself.

The peers stage needs Debian's bogofilter, spamassassin, spamc and spamd and installs the ones
missing with apt-get (as root). It starts its own `spamd -L` (local tests only) on a free
loopback port, with a copy of /etc/spamassassin under --work that turns Bayes and auto-learning
off, and stops it when done; --spamd-port uses a spamd already running instead.

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
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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


# Debian package -> a command it installs that the peers stage runs.
PEER_PACKAGES = {"bogofilter": "bogofilter", "spamassassin": "spamassassin", "spamc": "spamc",
                 "spamd": "spamd"}


def install_peers() -> None:
    """Install the peers' Debian packages that are missing (apt-get, as root), or say which."""
    missing = [pkg for pkg, command in PEER_PACKAGES.items() if shutil.which(command) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"compare_peers: missing {' '.join(missing)}: run as root, or apt-get install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                   check=True, env=env)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def spamd_running(work: Path, jobs: int) -> Iterator[int]:
    """A private ``spamd -L`` on a free loopback port, Bayes and auto-learning off; yields the port.

    The site configuration is a copy of Debian's with two lines added, so the rules are the
    package's own and nothing on the machine is changed. spamd refuses to run as root and falls
    back to the user named by ``-u``, who must be able to read the copy.
    """
    site = work / "sa-site"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree("/etc/spamassassin", site)
    with (site / "local.cf").open("a") as local:
        local.write("\nuse_bayes 0\nbayes_auto_learn 0\n")
    for path in (work, site, *site.rglob("*")):
        path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o644)
    port = _free_port()
    log = (work / "spamd.log").open("wb")
    spamd = subprocess.Popen(["spamd", "-L", f"--siteconfigpath={site}", "-x", "-u", "nobody",
                              "-i", "127.0.0.1", "-p", str(port), "-m", str(jobs)],
                             stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while subprocess.run(["spamc", "-p", str(port), "-K"], capture_output=True).returncode != 0:
            if spamd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"spamd did not start; see {work / 'spamd.log'}")
            time.sleep(0.5)
        yield port
    finally:
        spamd.terminate()
        spamd.wait(timeout=30)
        log.close()


def _spamc(raw: bytes, port: int) -> float:
    """SpamAssassin's score of one message. ``-x``: an error is an exit code, not the "0/0" that
    spamc's safe fallback would print for a message it could not have scored."""
    result = subprocess.run(["spamc", "-x", "-p", str(port), "-s", "4000000", "-c"], input=raw,
                            capture_output=True, check=False, timeout=300)
    if result.returncode not in (0, 1):  # -c: 1 spam, 0 ham
        raise RuntimeError(f"spamc failed ({result.returncode}): {result.stderr.decode(errors='replace')}")
    return float(result.stdout.decode().split("/")[0])


def stage_peers(args: argparse.Namespace) -> None:
    install_peers()
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

    def score_all(port: int) -> list[float]:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            return list(pool.map(lambda item: _spamc(item[1], port), messages))

    if args.spamd_port:
        values = score_all(args.spamd_port)
    else:
        with spamd_running(work, args.jobs) as port:
            values = score_all(port)
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
    parser.add_argument("--spamd-port", type=int, default=None,
                        help="use a spamd already running on this loopback port (run with -L and "
                             "Bayes off) instead of starting one")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.stage == "peers":
        stage_peers(args)
    else:
        stage_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
