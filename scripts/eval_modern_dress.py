#!/usr/bin/env python3
"""How much the text model's verdicts depend on the form of the mail of 2002.

    python scripts/eval_modern_dress.py --corpora ../shared/corpora [--model FILE] [--head phish]
        [--attach] [--https]

Scores every test-split message of the corpora twice: as it came, and re-dressed as a client of
today sends it (``postwarden.classifiers.modern_dress``: multipart/alternative with an HTML part,
UTF-8, a provider's Message-ID, no X-Mailer; the words unchanged). A model that learnt what mail
says gives both the same verdict; one that learnt what the mail of 2002 looked like flags the
re-dressed ham. Prints, per class, the share over the spam threshold both ways and the shift of
the calibrated logit (median and 90th percentile), as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from train_default_model import SA, SOURCES

from postwarden.classifiers.model_file import SHIPPED_DIR, load_model
from postwarden.classifiers.modern_dress import dress
from postwarden.classifiers.split import TEST, identity, split_of
from postwarden.message import parse_message
from postwarden.sources import read_messages

# The shipped model's corpora, but its phishing (the question is how ordinary mail is judged).
GROUPS = {
    "SpamAssassin ham": [p for label, p in SOURCES if label == "ham" and p.startswith(SA)],
    "Enron sent mail (ham)": [p for label, p in SOURCES if label == "ham" and not p.startswith(SA)],
    "SpamAssassin spam": [p for label, p in SOURCES if label == "spam"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default="../shared/corpora")
    parser.add_argument("--model", default=str(SHIPPED_DIR / "default.joblib"))
    parser.add_argument("--head", choices=("spam", "phish"), default="spam",
                        help="the head whose verdicts are compared (default: spam)")
    parser.add_argument("--attach", action="store_true",
                        help="re-dress with a PDF document attached, as business mail carries")
    parser.add_argument("--https", action="store_true",
                        help="re-dress with every http link made https, as sites are linked today")
    args = parser.parse_args()
    model = load_model(args.model, [Path(args.model).resolve().parent])
    head = model.heads[args.head]
    started = time.monotonic()
    attached = ", re-dressed with a PDF attached" if args.attach else ""
    attached += ", links made https" if args.https else ""
    print(f"model {model.version}, {args.head} threshold {head.threshold:.3f}{attached}\n")
    print("| test split | messages | over threshold, as they came | re-dressed "
          "| logit shift, median | 90th pct |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, paths in GROUPS.items():
        clean, dressed = [], []
        for stored in read_messages([str(Path(args.corpora) / p) for p in paths]):
            if split_of(stored.raw) != TEST:
                continue
            other = dress(stored.raw, identity(stored.raw), attach=args.attach, https=args.https)
            if other is None:
                continue
            clean.append(model.score(parse_message(stored.raw))[args.head])
            dressed.append(model.score(parse_message(other))[args.head])
        shift = np.array([y.logit - x.logit for x, y in zip(clean, dressed, strict=True)])
        t = head.threshold
        a = np.array([s.probability for s in clean])
        b = np.array([s.probability for s in dressed])
        print(f"| {name} | {len(a):,} | {np.mean(a >= t):.2%} | {np.mean(b >= t):.2%} "
              f"| {np.median(shift):+.2f} | {np.quantile(shift, 0.9):+.2f} |", flush=True)
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
