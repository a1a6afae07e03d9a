#!/usr/bin/env python3
"""Speed of the recipient history: scoring one message against a large store.

    scripts/bench_history.py --store sqlite --pairs 1000000
    scripts/bench_history.py --store redis --redis-url redis://127.0.0.1:6399/0 --pairs 1000000

Fills a store through the history's own learning code with synthetic senders (each writing to
``--contacts`` addresses, ten per message, drawn from a shared pool so the organisation index
is realistic), then times the full scoring of messages with ten recipients: the look-ups, the
features and the model. Two mixes: ten known contacts, and eight known plus one stranger and
one typo of a contact (which takes the extra near-miss round trip). Prints p50/p99 in ms, of
the wall clock and of the thread's CPU time (which other processes on a busy machine disturb
less; for Redis it leaves out the server's share). ``--scores FILE`` saves every score, or
compares with the scores a run of another version of the code saved (same store, same
``--now``), so a speed-up is shown to leave the scores as they were: every recipient's score,
verdict, reasons with their shares, and the words of the strongest reason.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time

from postwarden.misdirection.features import message_features
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


class StoreTimer:
    """Wraps the store's ``reading`` (what the history's look-up calls) to count its calls and
    keys and time what the caller spends in them (``--breakdown``): sending, and waiting for
    the answer; the history's own work in between, while the store looks up, is not counted."""

    def __init__(self, store: object):
        self.inner = store.reading  # type: ignore[attr-defined]
        self.ms = self.calls = self.keys = 0.0
        store.reading = self  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def __call__(self, groups):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        with self.inner(groups) as answer:
            self.ms += (time.perf_counter() - started) * 1000
            if groups:  # no groups, no call
                self.calls += 1
                self.keys += sum(len(members) for _, _, members, _ in groups)

            def timed():  # type: ignore[no-untyped-def]
                waited = time.perf_counter()
                try:
                    return answer()
                finally:
                    self.ms += (time.perf_counter() - waited) * 1000

            yield timed


def bench(history: RecipientHistory, books: list[list[str]], queries: int, mixed: bool,
          seed: int, now: float) -> tuple[list[float], list[float], list[str]]:
    """Wall-clock and CPU milliseconds per message, and every message's scores (JSON text)."""
    rng = random.Random(seed)
    weights = load_weights()
    times, cpu, scores = [], [], []
    timer = history.store.reading if isinstance(history.store.reading, StoreTimer) else None
    store_ms, features_ms = [], []
    for q in range(queries):
        s = rng.randrange(len(books))
        known = rng.sample(books[s], 8 if mixed else 10)
        if mixed:
            known += [f"stranger{q}@elsewhere{q % 50}.net", typo(rng, rng.choice(books[s]))]
        rcpts = [Recipient(a) for a in known]
        subject, text = " ".join(rng.sample(WORDS, 3)), " ".join(rng.choices(WORDS, k=60))
        before = timer.ms if timer else 0.0
        started, started_cpu = time.perf_counter(), time.thread_time()
        evidence = history.lookup(f"user{s}@example.com", rcpts, subject, text, now)
        result = score_message(history, weights, evidence, weights.default_threshold)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        # as JSON text, which the garbage collector does not track: thousands of lists of reasons
        # kept until the end would lengthen its full collections, and with them the timings
        scores.append(json.dumps([(r.address, r.score, r.flagged, r.contributions, r.why, r.resembles)
                                  for r in result]))
        if timer:
            store_ms.append(timer.ms - before)
            started = time.perf_counter()
            message_features(evidence)  # again, alone: the features' share of the scoring
            features_ms.append((time.perf_counter() - started) * 1000)
    if timer:
        store_p50, features_p50 = statistics.median(store_ms), statistics.median(features_ms)
        rest = statistics.median(times) - store_p50 - features_p50
        print(f"    breakdown, medians: store calls {store_p50:.2f} ms ({timer.calls / queries:.1f} calls, "
              f"{timer.keys / queries:.0f} keys and follows a message), features {features_p50:.2f} ms, "
              f"the rest (keys, tokens, decoding, model, reasons) {rest:.2f} ms")
        timer.ms = timer.calls = timer.keys = 0.0
    return times, cpu, scores


def check_scores(path: str, scores: list) -> str:
    """Compare with the scores an earlier run saved (another version of the code, the same store
    and --now): a speed-up must not change a single score or reason. The first run saves them."""
    scores = [json.loads(s) for s in scores]  # lists for tuples, floats exactly as saved
    if not os.path.exists(path):
        with open(path, "w") as f:
            json.dump(scores, f)
        return f"scores saved to {path}"
    with open(path) as f:
        saved = json.load(f)
    same = sum(1 for a, b in zip(saved, scores, strict=True) if a == b)
    return f"scores identical to {path} for {same} of {len(scores)} messages"


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
    parser.add_argument("--copy-from", metavar="SQLITE",
                        help="fill the store by copying a SQLite store this script filled with the same "
                             "arguments (minutes instead of half an hour), then score it")
    parser.add_argument("--now", type=float, default=time.time(),
                        help="the time messages are scored at (default: now)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the store calls and the features on their own")
    parser.add_argument("--scores", metavar="JSON",
                        help="save every score there, or compare with the scores saved there")
    args = parser.parse_args()
    senders = args.pairs // args.contacts
    if args.store == "sqlite" and not args.reuse:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(args.path + suffix):
                os.remove(args.path + suffix)
    store = open_store(args.store, path=args.path, url=args.redis_url, prefix="bench:")
    if args.store == "redis" and not args.reuse:
        store.client.flushdb()  # type: ignore[attr-defined]
    history = RecipientHistory(store, "bench-site-secret-0123456789", 180.0, 730.0, ["example.com"])
    started = time.perf_counter()
    how = "reused" if args.reuse else ""
    if args.copy_from:
        source = open_store("sqlite", path=args.copy_from)
        rows = store.restore(source.export())
        source.close()
        how = f"copied {rows} rows from {args.copy_from} in {time.perf_counter() - started:.0f}s"
    dry = args.reuse or bool(args.copy_from)
    books = fill(history, senders, args.contacts, args.pairs // 5, args.seed, dry=dry)
    how = how or f"filled in {time.perf_counter() - started:.0f}s"
    print(f"{args.store}: {senders} senders x {args.contacts} contacts = {senders * args.contacts} pairs, "
          f"{how}")
    if args.breakdown:
        StoreTimer(store)
    all_scores = []
    for mixed in (False, True):
        times, cpu, scores = bench(history, books, args.queries, mixed, args.seed + 1, args.now)
        all_scores += scores
        q, qc = statistics.quantiles(times, n=100), statistics.quantiles(cpu, n=100)
        label = "8 known + stranger + typo" if mixed else "10 known contacts"
        print(f"  {label:28s} p50 {statistics.median(times):.2f} ms  p99 {q[98]:.2f} ms  "
              f"max {max(times):.2f} ms  (CPU p50 {statistics.median(cpu):.2f} p99 {qc[98]:.2f} ms; "
              f"{len(times)} messages)")
    if args.scores:
        print("  " + check_scores(args.scores, all_scores))
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
