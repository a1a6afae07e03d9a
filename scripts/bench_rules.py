#!/usr/bin/env python3
"""Cost of the rule layer: engine messages/s and rule time per message, pack vs 1,000 rules.

Reads the corpus once into memory (Transactions with the envelope taken from the headers, as
`scan` does), then for each rule set decides every message several times:

- ``none``: the engine with no checks at all (MIME parsing and policy only), the floor;
- ``pack``: the shipped default pack;
- ``1000``: the pack plus generated rules up to 1,000 (regexes over body, subject and headers,
  and list rules over link hosts, From domains and client networks with 2,000-entry lists).

Only the rules are checked (no models), DNS lists are off, and messages are parsed once per
decision as in the daemon. Besides engine messages/s it times the rule check alone on
pre-parsed messages, so the rule layer's own cost per message (mean and p99) is printed. One
untimed pass warms RE2's lazily built automata first (a long-running daemon's steady state);
runs are interleaved so a noisy moment on a shared machine hits every rule set alike.

Every message counts as inbound (``internal_networks: []``): the corpus' topmost Received
header is often the collector's fetchmail from 127.0.0.1, which would make it outbound and skip
the inbound rules.

``--hit-rates`` instead prints, per shipped rule, the share of messages it hits in the
SpamAssassin ham, the SpamAssassin spam and the Nazario phishing corpus, and how many messages
of each the pack alone tags (score >= 5) or acts on.

    /tmp/venv/bin/python scripts/bench_rules.py [--runs 3] [--limit N] [PATH ...]
    /tmp/venv/bin/python scripts/bench_rules.py --hit-rates
(default PATH: ../shared/corpora/spamassassin/*.tar.bz2)
"""

from __future__ import annotations

import argparse
import gc
import glob
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from postwarden.config import Config, RulesDnsSettings, RulesSettings
from postwarden.context import ScanContext
from postwarden.engine import Engine
from postwarden.envelope import fill_envelope_from_headers
from postwarden.message import parse_message
from postwarden.rules.check import RulesCheck, build_rules_check
from postwarden.rules.loader import load_rules
from postwarden.rules.pack import default_rules_dir
from postwarden.sources import read_messages
from postwarden.transaction import Transaction, transaction_from_bytes

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
DEFAULT = str(CORPORA / "spamassassin" / "*.tar.bz2")
INBOUND_ONLY = Config(internal_networks=[])
WORDS = (
    "free", "money", "offer", "click", "viagra", "loan", "credit", "winner", "prize", "urgent",
    "account", "verify", "password", "bank", "invoice", "payment", "delivery", "parcel", "bitcoin",
    "crypto", "investment", "casino", "pharmacy", "discount", "cheap", "meeting", "lunch", "project",
    "report", "schedule", "budget", "review", "contract", "deadline", "update", "security", "mortgage",
    "refinance", "insurance", "unsubscribe", "limited", "exclusive", "guaranteed", "approved", "rolex",
    "replica", "weight", "diet", "pills", "enlargement", "dating", "singles", "lottery", "inheritance",
    "beneficiary", "transfer", "wire"
)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _words(rng: random.Random, n: int) -> str:
    return "|".join(rng.sample(WORDS, n))


def generate(directory: Path, total: int, seed: int = 7) -> int:
    """Copy the pack into ``directory`` and add generated rules until ``total`` are enabled."""
    shutil.copytree(default_rules_dir(), directory, dirs_exist_ok=True)
    rng = random.Random(seed)
    have = len(load_rules([directory]).enabled)
    lists = directory / "lists" / "generated"
    lists.mkdir(parents=True)
    for i in range(10):
        (lists / f"domains-{i}.txt").write_text(
            "".join(
                f"{''.join(rng.choices(LETTERS, k=10))}.{rng.choice(['com', 'net', 'biz'])}\n"
                for _ in range(2000)
            )
        )
        (lists / f"networks-{i}.txt").write_text(
            "".join(
                f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24\n"
                for _ in range(2000)
            )
        )
    rules = []
    kinds = ["body"] * 4 + ["subject"] * 2 + ["header"] + ["url_host", "from_domain", "client_ip"]
    for n in range(total - have):
        kind = kinds[n % len(kinds)]
        if kind == "body":
            match = f"body: {{regex: '\\b({_words(rng, 3)})\\s+({_words(rng, 3)})\\b'}}"
        elif kind == "subject":
            match = f"subject: {{regex: '^(re: )?.*({_words(rng, 4)})'}}"
        elif kind == "header":
            name = rng.choice(["X-Mailer", "Received", "Content-Type", "User-Agent"])
            match = f"header: {{name: {name}, regex: '({_words(rng, 2)})[0-9]+'}}"
        elif kind == "url_host":
            match = f"url_host: {{list: lists/generated/domains-{n % 10}.txt}}"
        elif kind == "from_domain":
            match = f"from_domain: {{list: lists/generated/domains-{n % 10}.txt}}"
        else:
            match = f"client_ip: {{list: lists/generated/networks-{n % 10}.txt}}"
        rules.append(
            f"  - id: GEN_{n:04d}\n    description: generated {kind} rule\n    direction: any\n"
            f"    score: 0.1\n    match:\n      {match}\n"
        )
    (directory / "90-generated.yaml").write_text("rules:\n" + "".join(rules))
    return total


def transactions(paths: list[str], limit: int | None) -> list[Transaction]:
    out = []
    for stored in read_messages(paths):
        txn = transaction_from_bytes(stored.raw)
        fill_envelope_from_headers(txn)
        out.append(txn)
        if limit and len(out) >= limit:
            break
    return out


def engine_rate(engine: Engine, txns: list[Transaction]) -> float:
    started = time.perf_counter()
    for txn in txns:
        engine.decide(txn)
    return len(txns) / (time.perf_counter() - started)


def rule_times(check: RulesCheck, contexts: list[ScanContext]) -> list[float]:
    times = []
    for ctx in contexts:
        started = time.perf_counter()
        for _ in check.evaluate(ctx):
            pass
        times.append(time.perf_counter() - started)
    return times


def hit_rates() -> None:
    config = Config(internal_networks=[], rules=RulesSettings(dns=RulesDnsSettings(enabled=False)))
    engine = Engine(config, checks=[build_rules_check(config)])
    groups = {"ham": sorted(glob.glob(str(CORPORA / "spamassassin" / "*ham*.tar.bz2"))),
              "spam": sorted(glob.glob(str(CORPORA / "spamassassin" / "*spam*.tar.bz2"))),
              "phishing": sorted(glob.glob(str(CORPORA / "nazario-phishing" / "*.mbox.gz")))}
    counts: dict[str, Counter[str]] = {group: Counter() for group in groups}
    totals: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    for group, paths in groups.items():
        for txn in transactions(paths, None):
            verdict = engine.decide(txn)
            totals[group] += 1
            counts[group].update(r.id for r in verdict.reasons if r.kind == "rule")
            flagged[group] += verdict.score >= 5 or verdict.action.value != "accept"
    print("messages: " + ", ".join(f"{g} {totals[g]}" for g in groups))
    print("tagged or acted on by the pack alone: "
          + ", ".join(f"{g} {flagged[g]} ({flagged[g] / totals[g]:.2%})" for g in groups))
    print(f"| rule | {' | '.join(groups)} |")
    for rule_id in sorted(set().union(*counts.values())):
        print(f"| {rule_id} | " + " | ".join(f"{counts[g][rule_id] / totals[g]:.2%}" for g in groups) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, help="use only the first N messages")
    parser.add_argument("--rules", type=int, default=1000, help="size of the large rule set")
    parser.add_argument("--hit-rates", action="store_true", help="per-rule hit rates instead")
    args = parser.parse_args()
    if args.hit_rates:
        hit_rates()
        return
    txns = transactions(args.paths or sorted(glob.glob(DEFAULT)), args.limit)
    contexts = []
    for txn in txns:
        contexts.append(
            ScanContext(
                txn=txn, message=parse_message(txn.raw_message(), txn.body_truncated), direction="inbound"
            )
        )
    no_dns = RulesDnsSettings(enabled=False)
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), args.rules)
        sets: dict[str, RulesCheck | None] = {
            "none": None,
            "pack": build_rules_check(Config(rules=RulesSettings(dns=no_dns))),
            str(args.rules): build_rules_check(Config(rules=RulesSettings(directory=tmp, dns=no_dns))),
        }
    # The corpus held in memory (a daemon never holds one) would make every full garbage
    # collection walk it, and those pauses would be charged to whichever message ran then.
    gc.collect()
    gc.freeze()
    print(f"messages: {len(txns)}, Python {platform.python_version()}, one core")
    engines = {name: Engine(INBOUND_ONLY, checks=[check] if check else []) for name, check in sets.items()}
    rates: dict[str, list[float]] = {name: [] for name in sets}
    means: dict[str, list[float]] = {name: [] for name in sets}
    p99s: dict[str, list[float]] = {name: [] for name in sets}
    for check in sets.values():  # warm up: RE2 builds its DFA states lazily, once per process
        if check is not None:
            rule_times(check, contexts)
    for run in range(args.runs):  # interleaved, so a noisy moment hits every rule set alike
        for name, check in sets.items():
            rates[name].append(engine_rate(engines[name], txns))
            if check is not None:
                times = sorted(rule_times(check, contexts))
                means[name].append(statistics.fmean(times) * 1000)
                p99s[name].append(times[int(len(times) * 0.99)] * 1000)
        print(f"run {run + 1}: " + ", ".join(f"{n} {rates[n][-1]:.0f} msg/s" for n in sets), flush=True)
    for name, check in sets.items():
        mean = statistics.median(means[name]) if means[name] else 0.0
        p99 = statistics.median(p99s[name]) if p99s[name] else 0.0
        print(f"{name:>5}: {len(check.rules) if check else 0:4d} rules  engine "
              f"{statistics.median(rates[name]):6.0f} msg/s  rule check mean {mean:.3f} ms, "
              f"p99 {p99:.3f} ms per message")

if __name__ == "__main__":
    main()
