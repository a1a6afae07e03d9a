#!/usr/bin/env python3
"""Speed of the recipient history: scoring one message against a large store.

    scripts/bench_history.py --store sqlite --pairs 1000000
    scripts/bench_history.py --store redis --redis-url redis://127.0.0.1:6399/0 --pairs 1000000

Fills a store through the history's own learning code with synthetic senders (each writing to
``--contacts`` addresses, ten per message, drawn from a shared pool so the organisation index
is realistic), then times the full scoring of messages with ten recipients: the look-ups, the
features and the model. Two mixes: ten known contacts, and eight known plus one stranger and
one typo of a contact (which takes the extra near-miss round trips). Prints p50/p99 in ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from postwarden.misdirection.history import MessageEvidence, Recipient, RecipientEvidence, RecipientHistory
from postwarden.misdirection.model import load_weights
from postwarden.misdirection.scorer import score_message
from postwarden.misdirection.textvec import text_vector
from postwarden.stores import open_store

WORDS = """
contract gas power trading schedule meeting report price deal risk credit legal draft review
pipeline storage invoice forecast budget board
""".split()  # noqa: SIM905 - a word list reads better as text
FIRST = """
john mary dan sara mike anna paul lisa mark kate tom jane bill susan jeff laura
""".split()  # noqa: SIM905 - a word list reads better as text
LAST = """
smith jones brown taylor lee walker hall allen young king wright scott green baker
""".split()  # noqa: SIM905 - a word list reads better as text


def address(rng: random.Random, i: int) -> str:
    domain = "example.com" if i % 3 else f"partner{i % 400}.com"
    return f"{rng.choice(FIRST)}.{rng.choice(LAST)}{i}@{domain}"


def fill(history: RecipientHistory, senders: int, contacts: int, pool_size: int,
         seed: int, dry: bool = False) -> list[list[str]]:
    """Learn the synthetic mail; ``dry`` only replays the random choices (to score a store
    filled by an earlier run with the same arguments)."""
    rng = random.Random(seed)
    pool = [address(rng, i) for i in range(pool_size)]
    books = []
    now = time.time() - 86400
    started = time.perf_counter()
    for s in range(senders):
        sender = f"user{s}@example.com"
        book = rng.sample(pool, contacts)
        books.append(book)
        with history.store.batch():
            _learn_book(history, rng, sender, book, now, dry)
        if s % 200 == 199 and not dry:
            print(f"  {s + 1} senders, {(s + 1) * contacts} pairs, {time.perf_counter() - started:.0f}s",
                  file=sys.stderr)
    return books


def _learn_book(history: RecipientHistory, rng: random.Random, sender: str, book: list[str],
                now: float, dry: bool) -> None:
    for k in range(0, len(book), 10):
        rcpts = [Recipient(a) for a in book[k:k + 10]]
        subject, text = " ".join(rng.sample(WORDS, 3)), " ".join(rng.choices(WORDS, k=40))
        if dry:
            continue
        vec = text_vector(subject, text)
        ev = MessageEvidence(sender, now, 0.0, [RecipientEvidence(r, history.tok("a", r.address))
                                                for r in rcpts], vec, frozenset(), history.half_life)
        history.learn(ev, now)


def typo(rng: random.Random, a: str) -> str:
    local, _, domain = a.partition("@")
    i = rng.randrange(1, len(local) - 1)
    return f"{local[:i]}{local[i + 1:]}@{domain}"


def bench(history: RecipientHistory, books: list[list[str]], queries: int, mixed: bool,
          seed: int) -> list[float]:
    rng = random.Random(seed)
    weights = load_weights()
    times = []
    for q in range(queries):
        s = rng.randrange(len(books))
        known = rng.sample(books[s], 8 if mixed else 10)
        if mixed:
            known += [f"stranger{q}@elsewhere{q % 50}.net", typo(rng, rng.choice(books[s]))]
        rcpts = [Recipient(a) for a in known]
        subject, text = " ".join(rng.sample(WORDS, 3)), " ".join(rng.choices(WORDS, k=60))
        started = time.perf_counter()
        evidence = history.lookup(f"user{s}@example.com", rcpts, subject, text, time.time())
        score_message(history, weights, evidence, weights.default_threshold)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--path", default="/tmp/postwarden-bench-history.sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=500, help="contacts per sender")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help="score a store an earlier run with the same arguments filled")
    args = parser.parse_args()
    senders = args.pairs // args.contacts
    if args.store == "sqlite" and not args.reuse:
        import os

        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(args.path + suffix):
                os.remove(args.path + suffix)
    store = open_store(args.store, path=args.path, url=args.redis_url, prefix="bench:")
    if args.store == "redis" and not args.reuse:
        store.client.flushdb()  # type: ignore[attr-defined]
    history = RecipientHistory(store, "bench-site-secret-0123456789", 180.0, 730.0, ["example.com"])
    started = time.perf_counter()
    books = fill(history, senders, args.contacts, args.pairs // 5, args.seed, dry=args.reuse)
    fill_s = time.perf_counter() - started
    print(f"{args.store}: {senders} senders x {args.contacts} contacts = {senders * args.contacts} pairs, "
          f"{'reused' if args.reuse else f'filled in {fill_s:.0f}s'}")
    for mixed in (False, True):
        times = bench(history, books, args.queries, mixed, args.seed + 1)
        q = statistics.quantiles(times, n=100)
        label = "8 known + stranger + typo" if mixed else "10 known contacts"
        print(f"  {label:28s} p50 {statistics.median(times):.2f} ms  p99 {q[98]:.2f} ms  "
              f"max {max(times):.2f} ms  ({len(times)} messages)")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
