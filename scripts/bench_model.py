#!/usr/bin/env python3
"""Speed of the text models: load time, and featurise+score time per message on one core.

  python scripts/bench_model.py --corpora ../shared/corpora [--runs 5]

Messages: the SpamAssassin test split (as stored, all sizes) plus synthetic 100 KB messages
(plain text and HTML) built from that mail. The time measured is what the engine's model check
costs per message after parsing (parse_message is shared by every check and measured apart):
normalising, featurising, hashing and scoring both heads, and naming the top-5 features of
each head that hits (the engine names them only for a hit's reason).
Prints medians of the per-run median, p99 and maximum.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from postwarden.classifiers.model_store import SHIPPED_FILE
from postwarden.classifiers.split import TEST, split_of
from postwarden.message import parse_message
from postwarden.sources import read_messages


def _big(text: str, html: bool) -> bytes:
    body = (text * (100_000 // max(len(text), 1) + 1))[:100_000]
    if html:
        body = "<html><body>" + "".join(f"<p>{line}</p>" for line in body.splitlines()) + "</body></html>"
    ctype = "text/html" if html else "text/plain"
    return (f"From: a@example.org\nTo: b@example.org\nSubject: big message\nContent-Type: {ctype}; "
            f"charset=utf-8\n\n{body}").encode()


def _score(model, message) -> None:
    """What the engine's check does: score both heads, name the top features of those that hit."""
    for score in model.score(message, top=5).values():
        if score.over:
            _ = score.top


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpora", default="../shared/corpora")
    parser.add_argument("--model", default=str(SHIPPED_FILE))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from postwarden.classifiers.model_file import load_model

    loads = []
    for _ in range(args.runs):
        started = time.perf_counter()
        model = load_model(args.model, [Path(args.model).resolve().parent])
        loads.append(time.perf_counter() - started)
    sa = Path(args.corpora) / "spamassassin"
    raws = [m.raw for m in read_messages(sorted(str(p) for p in sa.glob("*.tar.bz2")))
            if split_of(m.raw) == TEST]
    messages = [parse_message(r) for r in raws]
    sample_text = "\n".join(m.text for m in messages[:40] if m.text)
    big = [parse_message(_big(sample_text, html)) for html in (False, True)]
    sizes = np.array([len(r) for r in raws])
    print(f"model {model.version}: file {Path(args.model).stat().st_size / 1e6:.2f} MB, "
          f"load median {statistics.median(loads) * 1000:.0f} ms")
    print(f"{len(messages)} test-split messages, size median {np.median(sizes) / 1000:.1f} KB, "
          f"max {sizes.max() / 1000:.0f} KB; plus 2 messages of 100 KB")
    for message in messages:  # warm the caches, as a running daemon has them
        _score(model, message)
    medians, p99s, maxima, bigs = [], [], [], []
    for _ in range(args.runs):
        times = []
        for message in messages:
            started = time.perf_counter()
            _score(model, message)
            times.append(time.perf_counter() - started)
        times_ms = np.array(times) * 1000
        medians.append(np.median(times_ms))
        p99s.append(np.percentile(times_ms, 99))
        maxima.append(times_ms.max())
        for message in big:
            started = time.perf_counter()
            _score(model, message)
            bigs.append((time.perf_counter() - started) * 1000)
    print(f"featurise+score per message: median {statistics.median(medians):.3f} ms, "
          f"p99 {statistics.median(p99s):.3f} ms, max {statistics.median(maxima):.3f} ms")
    print(f"100 KB messages: median {statistics.median(bigs):.3f} ms, max {max(bigs):.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
