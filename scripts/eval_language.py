#!/usr/bin/env python3
"""How often the English check (``postwarden.classifiers.language``) calls corpus mail foreign.

    python scripts/eval_language.py --corpora ../shared/corpora [--model FILE]

For every test-split message of the corpora: the share of its words that are common English
function words, whether the check calls it another language, and what that costs the model's
verdict (a message called foreign is judged from ``other_language_threshold``, 0.9, instead of
the head's own threshold). Prints, per source, the share called foreign and how many messages
over the model's threshold would no longer be flagged, as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from train_default_model import SOURCES  # the shipped model's corpora, in its order

from postwarden.classifiers.language import MIN_WORDS, english_share, is_other_language
from postwarden.classifiers.model_file import SHIPPED_DIR, load_model
from postwarden.classifiers.split import TEST, split_of
from postwarden.config import ModelSettings
from postwarden.message import parse_message
from postwarden.sources import read_messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default="../shared/corpora")
    parser.add_argument("--model", default=str(SHIPPED_DIR / "default.joblib"))
    args = parser.parse_args()
    model = load_model(args.model, [Path(args.model).resolve().parent])
    raised = ModelSettings().other_language_threshold
    started = time.monotonic()
    print(f"model {model.version}; foreign mail judged from p = {raised}\n")
    print("| source | label | test messages | English share, 1st pct | median | called foreign "
          "| flagged | flagged, foreign | no longer flagged |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, path in SOURCES:
        shares, total, foreign, flagged, flagged_foreign, lost = [], 0, 0, 0, 0, 0
        for stored in read_messages([str(Path(args.corpora) / path)]):
            if split_of(stored.raw) != TEST:
                continue
            total += 1
            message = parse_message(stored.raw)
            share = english_share(message)
            if share is not None:
                shares.append(share)
            is_foreign = is_other_language(share)
            foreign += is_foreign
            scores = model.score(message)
            over = [s for s in scores.values() if s.over]
            flagged += bool(over)
            if is_foreign and over:
                flagged_foreign += 1
                lost += not any(s.probability >= max(s.threshold, raised) for s in over)
        q1, q50 = np.quantile(shares, [0.01, 0.5]) if shares else (float("nan"),) * 2
        print(f"| {Path(path).name} | {label} | {total:,} | {q1:.3f} | {q50:.3f} | {foreign:,} "
              f"| {flagged:,} | {flagged_foreign:,} | {lost:,} |", flush=True)
    print(f"\n({time.monotonic() - started:.0f} s; the shares are over messages of "
          f"{MIN_WORDS} words or more, the others are never called foreign)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
