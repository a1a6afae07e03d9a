"""`postwarden history ...`: the operator's handle on the recipient history."""

from __future__ import annotations

import argparse
import sys
import time

from postwarden.config import ConfigError, load_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    history = sub.add_parser("history", help="the recipient history of misdirected-mail detection")
    actions = history.add_subparsers(dest="history_command", required=True)
    imp = actions.add_parser("import", help="learn sent-mail folders into the configured history store")
    imp.add_argument("-c", "--config", metavar="FILE", help="postwarden.yaml (default: built-in defaults)")
    imp.add_argument("paths", nargs="+", metavar="PATH",
                     help="sent-mail file, mbox, maildir, directory or .tar.* archive")
    imp.add_argument("--sender", help="whose sent mail this is (default: each message's From)")


def history_command(args: argparse.Namespace) -> int:
    from postwarden.misdirection.factory import build_history
    from postwarden.misdirection.importer import import_history
    from postwarden.sources import SourceError

    try:
        config = load_config(args.config)
        history = build_history(config)
    except ConfigError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        result = import_history(history, args.paths, args.sender)
    except SourceError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return 1
    finally:
        history.store.close()
    print(f"postwarden: learned {result.learned} message(s) from {result.senders} sender(s), skipped "
          f"{result.duplicates} already learned and {result.skipped} without a date or recipient, "
          f"in {time.perf_counter() - started:.1f}s")
    return 0
