#!/usr/bin/env python3
"""Learn the recipient-history model from simulated mistakes in the Enron sent mail.

    scripts/train_misdirection.py /work/shared/corpora/enron-sent/enron-sent.tar.gz \\
        --out postwarden/data/misdirection-weights.json

Replays every mailbox (postwarden.misdirection.evaluate.collect), then fits two ensembles of
gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier, one core), one for
recipients the sender never wrote to and one for known contacts, on the rows of the TRAIN
mailboxes only (a fixed half, `split_users`); the other half is what
`scripts/eval_misdirection.py` reports on. Each mistake kind carries the same total weight, so
no kind wins the 0.5 % false-flag budget by being simulated more often (the Carvalho-Cohen leak
copies at ``--leak-weight`` of a kind).

The offset between the branches and the stored thresholds are chosen on out-of-fold scores:
the training mailboxes are split in two, each half scored by trees fitted on the other, because
trees score the rows they were fitted on too well and a threshold set there flags more real
recipients on new mailboxes. The offset is the one, on a grid, that maximises the mean detection
of the four mistake kinds at 0.5 % false flags among those that keep the training leaks' Prec@1
at ``--min-prec-at-1`` (the Carvalho-Cohen target); the thresholds are the 0.5 % and 1 %
false-flag points. The replay is cached (``--cache``), so evaluation reuses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from postwarden.misdirection import evaluate, simulate
from postwarden.misdirection.features import NAMES, contact_at_lookalike_domain
from postwarden.misdirection.model import LEAF, Trees, Weights
from postwarden.misdirection.replay import DEFAULT_CACHE, load_rows


def _means(nodes: np.ndarray) -> tuple[np.ndarray, int]:
    """Leaf values at leaves, the count-weighted mean of the leaves below at inner nodes (so a
    path's value changes add up to its leaf), and the tree's depth."""
    mean = np.zeros(len(nodes))
    depth = 0

    def visit(i: int, d: int) -> tuple[float, float]:
        nonlocal depth
        node = nodes[i]
        depth = max(depth, d)
        if node["is_leaf"]:
            mean[i] = node["value"]
            return float(node["value"]) * node["count"], float(node["count"])
        a = visit(int(node["left"]), d + 1)
        b = visit(int(node["right"]), d + 1)
        mean[i] = (a[0] + b[0]) / max(a[1] + b[1], 1.0)
        return a[0] + b[0], a[1] + b[1]

    visit(0, 0)
    return mean, depth


def export(model: HistGradientBoostingClassifier) -> Trees:
    """The fitted trees as flat arrays (see Trees)."""
    feature, threshold, left, right, value, roots = [], [], [], [], [], []
    depth = 1
    for (predictor,) in model._predictors:  # binary classification: one tree per iteration
        nodes = predictor.nodes
        offset = len(value)
        roots.append(offset)
        mean, d = _means(nodes)
        depth = max(depth, d)
        for i, node in enumerate(nodes):
            leaf = bool(node["is_leaf"])
            feature.append(LEAF if leaf else int(node["feature_idx"]))
            threshold.append(0.0 if leaf else float(node["num_threshold"]))
            left.append(offset + i if leaf else offset + int(node["left"]))
            right.append(offset + i if leaf else offset + int(node["right"]))
            value.append(float(mean[i]))
    return Trees(float(np.ravel(model._baseline_prediction)[0]), np.asarray(roots), np.asarray(feature),
                 np.asarray(threshold), np.asarray(left), np.asarray(right), np.asarray(value), depth)


def sample_weights(kind: np.ndarray, label: np.ndarray, leak_weight: float) -> np.ndarray:
    """Every row of a mistake copy gets its kind's weight: total weight per kind equal to the
    real messages' (the leak copies scaled by ``leak_weight``)."""
    w = np.ones(len(kind))
    n_real = max(int((kind == evaluate.REAL).sum()), 1)
    for k in (*simulate.KINDS, evaluate.LEAK):
        sel = kind == k
        if sel.any():
            w[sel] = n_real / sel.sum() * (leak_weight if k == evaluate.LEAK else 1.0)
    return w


OFFSETS = np.arange(-3.0, 3.01, 0.25)


# Signals whose direction is known: more of them never makes a recipient look less like a
# mistake (or, for the second group, more like one). Trees otherwise learn odd dips from the few
# real recipients that have them, and extrapolate them to mailboxes unlike the training ones.
RAISING = ("near_contact", "near_domain", "near_org_contact", "near_address_in_text", "name_typo_in_text",
           "near_domain_in_text", "greets_absent", "name_unseen")
LOWERING = ("address_in_text", "greeted", "org_tie_sender", "org_tie_max")


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, args: argparse.Namespace) -> Trees:
    monotonic = [1 if n in RAISING else -1 if n in LOWERING else 0 for n in NAMES] if args.monotonic else None
    model = HistGradientBoostingClassifier(max_iter=args.trees, max_depth=args.depth,
                                           learning_rate=args.learning_rate, early_stopping=False,
                                           random_state=0, monotonic_cst=monotonic)
    model.fit(x, y, sample_weight=w)
    trees = export(model)
    if not np.allclose(trees.logit(x[:2000]), model.decision_function(x[:2000]), atol=1e-6):
        raise SystemExit("exported trees disagree with scikit-learn's")
    return trees


def fit_branches(d: dict[str, np.ndarray], args: argparse.Namespace) -> tuple[Trees, Trees]:
    """The known branch learns from known contacts only (its mistakes: a same-name contact, a
    leak); the never-mailed branch learns from every row, which scores new recipients better
    than the never-mailed rows alone (it sees how the signals behave on both sides)."""
    x, y = d["x"], d["label"]
    unknown = Weights.is_unknown(x)
    w = sample_weights(d["kind"], y, args.leak_weight)
    known = fit(x[~unknown], y[~unknown], w[~unknown], args)
    if args.unknown_on == "all":
        return known, fit(x, y, sample_weights(d["kind"], y, args.unknown_leak_weight), args)
    return known, fit(x[unknown], y[unknown], w[unknown], args)


def shifted(trees: Trees, offset: float) -> Trees:
    return dataclasses.replace(trees, base=trees.base + offset)


def out_of_fold(train: dict[str, np.ndarray], users: list[str], args: argparse.Namespace) -> np.ndarray:
    """Logits of every training row from trees fitted on the other half of the mailboxes, with
    the known branch's logits in column 0 and the unknown branch's in column 1."""
    order = sorted(users)
    random.Random(11).shuffle(order)
    halves = [order[:len(order) // 2], order[len(order) // 2:]]
    logits = np.zeros(len(train["label"]))
    for k in range(2):
        fit_on = np.isin(train["user"], halves[k])
        known, unknown = fit_branches({n: v[fit_on] for n, v in train.items()}, args)
        logits[~fit_on] = Weights(known, unknown, {}, {}).logit(train["x"][~fit_on])
    return logits


def leak_prec_at_1(scores: np.ndarray, d: dict[str, np.ndarray]) -> float:
    """Prec@1 of the training leak copies: the share whose added contact scores highest among
    the message's recipients (ties shared), as in Carvalho and Cohen."""
    sel = d["kind"] == evaluate.LEAK
    hits: dict[int, list[tuple[float, int]]] = {}
    for g, sc, lab in zip(d["group"][sel], scores[sel], d["label"][sel], strict=True):
        hits.setdefault(int(g), []).append((float(sc), int(lab)))
    total = 0.0
    for rows in hits.values():
        top = max(sc for sc, _ in rows)
        winners = [lab for sc, lab in rows if sc == top]
        total += sum(winners) / len(winners)
    return total / max(len(hits), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--trees", type=int, default=150)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--leak-weight", type=float, default=1.0)
    parser.add_argument("--monotonic", action="store_true",
                        help="constrain the direction of the RAISING and LOWERING signals (measured: "
                             "no better out of fold, so off)")
    parser.add_argument("--min-prec-at-1", type=float, default=0.9,
                        help="the offset must keep the training leaks' Prec@1 at least this")
    parser.add_argument("--unknown-on", choices=("all", "unknown"), default="unknown",
                        help="rows the never-mailed branch learns from")
    parser.add_argument("--unknown-leak-weight", type=float, default=0.25)
    args = parser.parse_args()
    started = time.time()
    data, users = load_rows(args.corpus, args.cache)
    train_users, test_users = evaluate.split_users(users)
    sel = np.isin(data["user"], train_users)
    train = {k: v[sel] for k, v in data.items()}
    y = train["label"]
    real = train["kind"] == evaluate.REAL
    oof = out_of_fold(train, train_users, args)
    unknown = Weights.is_unknown(train["x"])
    best = None
    for offset in OFFSETS:
        scores = 1.0 / (1.0 + np.exp(-np.clip(np.where(unknown, oof, oof + offset), -40, 40)))
        # stopped by the check whatever the score: malformed, or a contact at a lookalike domain
        scores[train["invalid"] | contact_at_lookalike_domain(train["x"])] = np.inf
        point = evaluate.operating_point(scores, train, evaluate.threshold_at(scores[real], 0.005))
        mean = float(np.mean([point[k]["detected"] for k in simulate.KINDS]))
        ranked = leak_prec_at_1(scores, train)
        key = (ranked >= args.min_prec_at_1, mean)
        if best is None or key > best[0]:
            best = (key, float(offset), scores, point, ranked)
    (_, mean_detection), offset, scores, point, ranked = best  # type: ignore[misc]
    thresholds = {"fpr_0.5": evaluate.threshold_at(scores[real], 0.005),
                  "fpr_1": evaluate.threshold_at(scores[real], 0.01)}
    known, unknown_trees = fit_branches(train, args)
    final = Weights(shifted(known, offset), unknown_trees, thresholds, {})
    kinds = {k: int(((train["kind"] == k) & (y == 1)).sum()) for k in (*simulate.KINDS, evaluate.LEAK)}
    final.meta.update({
        "trained_on": "Enron sent mail (CMU export), simulated mistakes",
        "train_mailboxes": train_users, "held_out_mailboxes": test_users,
        "rows": int(sel.sum()), "real_recipients": int(real.sum()), "mistakes": kinds,
        "trees": args.trees, "depth": args.depth, "learning_rate": args.learning_rate,
        "leak_weight": args.leak_weight, "known_offset": offset, "unknown_branch_rows": args.unknown_on,
        "unknown_leak_weight": args.unknown_leak_weight, "monotonic": args.monotonic,
        "out_of_fold_leak_prec_at_1": round(ranked, 4),
        "out_of_fold_detection_at_0.5": {k: round(point[k]["detected"], 4) for k in simulate.KINDS},
        "sklearn": "HistGradientBoostingClassifier per branch (never_mailed / known), kinds equal"})
    final.save(args.out)
    print(f"wrote {args.out}: {int(sel.sum())} rows from {len(train_users)} mailboxes, offset {offset}, "
          f"out-of-fold mean detection {mean_detection:.3f}, leak Prec@1 {ranked:.3f}, "
          f"thresholds {thresholds}, "
          f"{time.time() - started:.0f}s", file=sys.stderr)
    names = final.to_dict()["features"]
    for name, branch, rows in (("known", final.known, ~unknown), ("unknown", final.unknown, unknown)):
        sample = train["x"][rows & (y == 1)][:300]
        gain = sum(np.abs(branch.contributions(row)) for row in sample) / max(len(sample), 1)
        top = sorted(zip(names, gain, strict=True), key=lambda t: -t[1])[:8]
        print(f"  {name:8s} " + ", ".join(f"{n} {g:.2f}" for n, g in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
