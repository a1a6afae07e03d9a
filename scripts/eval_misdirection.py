#!/usr/bin/env python3
"""Evaluate the recipient-history model on Enron sent mail with simulated mistakes.

    scripts/eval_misdirection.py /work/shared/corpora/enron-sent/enron-sent.tar.gz

Reports on the held-out half of the mailboxes only (the half train_misdirection.py never saw):
detection per mistake kind at 0.5 % and 1 % recipient-level false flags (thresholds set on the
held-out real recipients, i.e. points of the ROC curve), the same at the shipped threshold
(fixed on the training mailboxes: what a deployment gets), the share of real messages stopped,
how often the stopped copy's only flagged recipient is the replaced one, the never-seen baseline,
and the Carvalho-Cohen leak protocol (Prec@1). Prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from postwarden.misdirection import evaluate, simulate
from postwarden.misdirection.model import load_weights
from postwarden.misdirection.replay import DEFAULT_CACHE, load_boxes, load_rows


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def table(title: str, points: list[tuple[str, dict]]) -> str:
    lines = [f"**{title}**", "",
             "| operating point | false flags (rcpt) | msgs stopped | " + " | ".join(
                 f"{k} det. / only-replaced" for k in simulate.KINDS) + " |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in simulate.KINDS) + " |"]
    for name, p in points:
        cells = [f"{_pct(p[k]['detected'])} / {_pct(p[k]['flagged_is_replaced'])}" if p[k].get("n") else "-"
                 for k in simulate.KINDS]
        lines.append(f"| {name} | {_pct(p['false_flag_rate'])} % | {_pct(p['message_stop_share'])} % | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="+")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--weights", default=None, help="weights file (default: the shipped one)")
    parser.add_argument("--no-leak", action="store_true", help="skip the Carvalho-Cohen protocol")
    args = parser.parse_args()
    started = time.time()
    weights = load_weights(args.weights)
    data, users = load_rows(args.corpus, args.cache)
    _, test_users = evaluate.split_users(users)
    sel = np.isin(data["user"], test_users)
    test = {k: v[sel] for k, v in data.items()}
    scores = evaluate.deployed_scores(weights, test)
    real = test["kind"] == evaluate.REAL
    points = []
    for fpr in (0.005, 0.01):
        t = evaluate.threshold_at(scores[real], fpr)
        points.append((f"model @ {100 * fpr:g} % false flags", evaluate.operating_point(scores, test, t)))
    shipped = evaluate.operating_point(scores, test, weights.default_threshold)
    points.append(("model @ shipped threshold", shipped))
    baseline = evaluate.operating_point(evaluate.baseline_scores(test), test, 0.5)
    points.append(("baseline: never seen", baseline))
    counts = {k: int(((test["kind"] == k) & (test["label"] == 1)).sum()) for k in simulate.KINDS}
    print(f"Held-out mailboxes ({len(test_users)}): {', '.join(test_users)}; "
          f"{int(real.sum())} real recipients in {len(np.unique(test['group'][real]))} real messages; "
          f"mistakes: {counts}\n")
    print(table("Simulated mistakes, held-out mailboxes (detected % / flagged-is-replaced %)", points))
    if not args.no_leak:
        boxes = load_boxes(args.corpus)
        leak = evaluate.leak_protocol(boxes, test_users, weights)
        print("\n**Carvalho & Cohen (SDM 2007) leak protocol, held-out mailboxes**\n")
        print("| ranking | Prec@1 |\n| --- | ---: |")
        print(f"| recipient-history model | {leak['prec_at_1']:.3f} |")
        print(f"| least frequent contact first | {leak['least_frequent_contact']:.3f} |")
        print(f"| random | {leak['random']:.3f} |")
        print(f"\n{leak['messages']} test messages; per mailbox: "
              + ", ".join(f"{u} {v:.2f}" for u, v in leak["per_user"].items()))
    print(f"\n({time.time() - started:.0f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
