"""`postwarden history ...`: the operator's handle on the recipient history."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from postwarden.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from postwarden.misdirection.history import RecipientHistory

DAY = 86400.0


def _store_errors() -> tuple[type[Exception], ...]:
    """What a store raises when it fails during a command (imported only then: every command of
    the CLI builds these parsers, and the Redis client takes 50 ms to import)."""
    import sqlite3

    import redis

    return sqlite3.Error, redis.RedisError


def add_parser(sub: argparse._SubParsersAction) -> None:
    history = sub.add_parser("history", help="the recipient history of misdirected-mail detection")
    actions = history.add_subparsers(dest="history_command", required=True)
    imp = actions.add_parser("import", help="learn sent-mail folders into the configured history store")
    imp.add_argument("-c", "--config", metavar="FILE", help="postwarden.yaml (default: built-in defaults)")
    imp.add_argument("paths", nargs="+", metavar="PATH",
                     help="sent-mail file, mbox, maildir, directory or .tar.* archive")
    imp.add_argument("--sender", help="whose sent mail this is (default: each message's From)")
    forget = actions.add_parser(
        "forget", help="delete everything the history keeps per sender (a departed user, or an "
                       "account whose compromise taught it a spam run's addresses)")
    forget.add_argument("-c", "--config", metavar="FILE", help="postwarden.yaml (default: built-in defaults)")
    forget.add_argument("senders", nargs="+", metavar="SENDER", help="the sender's address")
    purge = actions.add_parser(
        "purge", help="delete what was not used within the horizon (run it daily: the SQLite store "
                      "never deletes on its own)")
    purge.add_argument("-c", "--config", metavar="FILE", help="postwarden.yaml (default: built-in defaults)")
    purge.add_argument("--older-than", type=float, metavar="DAYS",
                       help="delete what was last used longer ago than this "
                            "(default: recipient_history.horizon_days)")


def history_command(args: argparse.Namespace) -> int:
    from postwarden.misdirection.factory import build_history

    try:
        config = load_config(args.config)
        days = _purge_days(config, args.older_than) if args.history_command == "purge" else 0.0
        history = build_history(config)
    except ConfigError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return 2
    try:
        if args.history_command == "purge":
            return _purge(history, days)
        if args.history_command == "forget":
            return _forget(history, args.senders)
        return _import(history, args.paths, args.sender)
    finally:
        history.store.close()


def _import(history: RecipientHistory, paths: list[str], sender: str | None) -> int:
    from postwarden.misdirection.importer import import_history
    from postwarden.sources import SourceError

    started = time.perf_counter()
    try:
        result = import_history(history, paths, sender)
    except SourceError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return 1
    except _store_errors() as exc:
        print(f"postwarden: import stopped: {exc}; what it learned is kept and marked, so running it "
              f"again skips that and goes on", file=sys.stderr)
        return 1
    print(f"postwarden: learned {result.learned} message(s) from {result.senders} sender(s), skipped "
          f"{result.duplicates} already learned and {result.skipped} without a date or recipient, "
          f"in {time.perf_counter() - started:.1f}s")
    return 0


def _purge_days(config: Config, older_than: float | None) -> float:
    days = config.recipient_history.horizon_days if older_than is None else older_than
    if older_than is not None and older_than <= 0:
        raise ConfigError(f"--older-than must be more than 0 days, got {older_than:g}")
    if days <= 0:
        raise ConfigError("nothing to purge by: recipient_history.horizon_days is 0 (keep everything); "
                          "pass --older-than DAYS")
    return days


def _purge(history: RecipientHistory, days: float) -> int:
    """What lookups already ignore (older than the horizon), deleted from the store, so a SQLite
    history stays the size of the horizon's mail. Safe while the daemon runs: the stores delete
    in short steps and keep what a node refreshed meanwhile."""
    started = time.time()
    cutoff = started - days * DAY
    try:
        removed = history.store.purge(cutoff)
    except _store_errors() as exc:
        print(f"postwarden: purge stopped, what it deleted so far stays deleted: {exc}", file=sys.stderr)
        return 1
    print(f"postwarden: purged {_entries(removed)} last used before "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(cutoff))} ({days:g} days), "
          f"in {time.time() - started:.1f}s")
    return 0


def _forget(history: RecipientHistory, senders: list[str]) -> int:
    """Exit 1 when a sender had nothing kept: a mistyped address must not pass for a done job."""
    from postwarden.misdirection.addresses import normalise

    status = 0
    for sender in senders:
        try:
            removed = history.forget(normalise(sender))
        except _store_errors() as exc:  # each sender in one transaction: this one kept whole
            print(f"postwarden: could not forget {sender}: {exc}", file=sys.stderr)
            return 1
        if removed:
            print(f"postwarden: forgot {_entries(removed)} of {sender}")
        else:
            print(f"postwarden: the history keeps nothing for {sender}", file=sys.stderr)
            status = 1
    return status


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"

