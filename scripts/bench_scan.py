#!/usr/bin/env python3
"""Throughput of `postwarden scan` (the daemon's engine, offline) over a corpus.

Reads the messages once into memory, then decides all of them several times with the default
configuration and prints messages per second per run and the median, so disk and
decompression do not count. Also checks that every message gave exactly one verdict.

    .venv/bin/python scripts/bench_scan.py [--runs 5] [PATH ...]
(default PATH: ../shared/corpora/spamassassin/*.tar.bz2)
"""

from __future__ import annotations

import argparse
import glob
import platform
import statistics
import time
from pathlib import Path

from postwarden.config import load_config
from postwarden.engine import Engine
from postwarden.scan import Envelope, scan_one
from postwarden.sources import read_messages

DEFAULT = str(Path(__file__).resolve().parents[1].parent / "shared/corpora/spamassassin/*.tar.bz2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("-c", "--config")
    args = parser.parse_args()
    paths = args.paths or sorted(glob.glob(DEFAULT))
    messages = list(read_messages(paths))
    size = sum(len(m.raw) for m in messages)
    engine = Engine(load_config(args.config))
    rates = []
    for run in range(args.runs):
        started = time.perf_counter()
        actions: dict[str, int] = {}
        for stored in messages:
            verdict = scan_one(engine, stored, Envelope())
            actions[verdict.action.value] = actions.get(verdict.action.value, 0) + 1
        elapsed = time.perf_counter() - started
        assert sum(actions.values()) == len(messages)
        rates.append(len(messages) / elapsed)
        print(f"run {run + 1}: {len(messages)} messages in {elapsed:.2f}s = {rates[-1]:.0f} msg/s {actions}")
    print(f"messages: {len(messages)} ({size / 1e6:.1f} MB), one core, {platform.python_version()}")
    print(f"median: {statistics.median(rates):.0f} msg/s, "
          f"{1000 / statistics.median(rates):.2f} ms per message")


if __name__ == "__main__":
    main()
