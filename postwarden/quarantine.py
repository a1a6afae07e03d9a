"""`postwarden quarantine`: the messages postwarden held in Postfix's hold queue.

A quarantined message is one Postfix keeps in its hold queue (the milter's SMFIR_QUARANTINE);
Postfix's own tools manage it, and these commands only put postwarden's view on them: which
held messages are ours and why (the X-Postwarden-Quarantine header postwarden added), and the
two things an operator then does, release (``postsuper -H``, then ``postqueue -i`` so it goes
out now rather than at the next queue run) or delete (``postsuper -d ... hold``, which cannot
touch a message outside the hold queue). A released message is not filtered again: milters
run when Postfix receives mail, not when it delivers it.

Postfix's queue belongs to root, so these commands need root, as ``postsuper`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from postwarden.policy import QUARANTINE_HEADER, STATUS_HEADER

_QUEUE_ID = re.compile(r"^[0-9A-Za-z]{5,40}$")
_SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


class QuarantineError(Exception):
    """A Postfix command that failed, or a queue id that is not a held message."""


@dataclass
class Held:
    queue_id: str
    arrival_time: int
    sender: str
    recipients: list[str]
    size: int
    subject: str
    reason: str  # X-Postwarden-Quarantine, "" when something else held the message
    status: str  # X-Postwarden-Status


def _command(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))  # sbin is often off PATH
    if not found:
        raise QuarantineError(f"{name} not found: is Postfix installed?")
    return found


def _run(args: list[str], config_dir: str | None) -> str:
    cmd = [_command(args[0]), *(["-c", config_dir] if config_dir else []), *args[1:]]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()
        raise QuarantineError(f"{' '.join(cmd)} exited {proc.returncode}: {why}")
    return proc.stdout.decode("utf-8", "replace")


def _hold_queue(config_dir: str | None) -> list[dict]:
    """``postqueue -j``'s entries of the hold queue."""
    entries = (json.loads(line) for line in _run(["postqueue", "-j"], config_dir).splitlines())
    return [e for e in entries if e.get("queue_name") == "hold"]


def held(config_dir: str | None = None) -> list[Held]:
    """Every message in the hold queue, oldest first, with postwarden's reason when it has one."""
    out = []
    for entry in _hold_queue(config_dir):
        headers = BytesHeaderParser(policy=compat32).parsebytes(
            _run(["postcat", "-hq", entry["queue_id"]], config_dir).encode("utf-8", "surrogateescape"))
        out.append(Held(entry["queue_id"], int(entry.get("arrival_time", 0)), entry.get("sender", ""),
                        [r.get("address", "") for r in entry.get("recipients", [])],
                        int(entry.get("message_size", 0)), str(headers.get("Subject", "")),
                        str(headers.get(QUARANTINE_HEADER, "")), str(headers.get(STATUS_HEADER, ""))))
    return sorted(out, key=lambda h: h.arrival_time)


def _checked(queue_ids: list[str], config_dir: str | None) -> list[str]:
    bad = [q for q in queue_ids if not _QUEUE_ID.match(q)]
    if bad:
        raise QuarantineError(f"not a Postfix queue id: {', '.join(bad)}")
    holding = {e["queue_id"] for e in _hold_queue(config_dir)}
    missing = [q for q in queue_ids if q not in holding]
    if missing:
        raise QuarantineError(f"not in the hold queue: {', '.join(missing)} "
                              "(see postwarden quarantine list)")
    return queue_ids


def release(queue_ids: list[str], config_dir: str | None = None) -> None:
    for queue_id in _checked(queue_ids, config_dir):
        _run(["postsuper", "-H", queue_id], config_dir)
        _run(["postqueue", "-i", queue_id], config_dir)


def delete(queue_ids: list[str], config_dir: str | None = None) -> None:
    for queue_id in _checked(queue_ids, config_dir):
        _run(["postsuper", "-d", queue_id, "hold"], config_dir)


# -- the command ------------------------------------------------------------------------------
def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("quarantine", help="list, release or delete the messages held in Postfix's "
                                               "hold queue")
    parser.add_argument("--postfix-config", metavar="DIR",
                        help="Postfix configuration directory (default: Postfix's own)")
    actions = parser.add_subparsers(dest="quarantine_command", required=True)
    listing = actions.add_parser("list", help="the held messages, oldest first, with postwarden's reason")
    listing.add_argument("--json", action="store_true", help="one JSON object per message")
    for name, text in (("release", "deliver held messages now (they are not filtered again)"),
                       ("delete", "delete held messages")):
        action = actions.add_parser(name, help=text)
        action.add_argument("queue_ids", nargs="+", metavar="QUEUE_ID")


def quarantine_command(args: argparse.Namespace) -> int:
    try:
        if args.quarantine_command == "list":
            for h in held(args.postfix_config):
                print(json.dumps(asdict(h)) if args.json else _line(h))
            return 0
        action = release if args.quarantine_command == "release" else delete
        action(args.queue_ids, args.postfix_config)
    except QuarantineError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return 1
    done = "released" if args.quarantine_command == "release" else "deleted"
    print(f"postwarden: {done} {len(args.queue_ids)} message(s): {' '.join(args.queue_ids)}")
    return 0


def _line(h: Held) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(h.arrival_time))
    reason = h.reason or "(held by something other than postwarden)"
    return f"{h.queue_id}  {when}Z  <{h.sender}> -> {', '.join(h.recipients)}  {h.subject!r}  {reason}"
