"""The main job: a private Postfix with postwarden on loopback, fed the bundled sample messages.

For each message in tests/samples/ it prints what the SMTP client was told and what became of
the message: delivered (with the X-Postwarden headers that landed), held in Postfix's hold
queue, discarded, refused or deferred. Everything runs in one temporary directory, on
127.0.0.1, and is stopped and removed at the end; the system Postfix is not touched.

Run as root (Postfix's master must start as root): ``scripts/demo.sh`` installs what is
needed first, then runs this with the project's venv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postfix_instance import (
    HarnessError,
    SmtpResult,
    Stack,
    ensure_crlf,
    missing_components,
    wait_until,
)

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "samples"


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\n\n", 1)[0].splitlines():
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return ""


def _decision(stack: Stack, result: SmtpResult, message_id: str) -> dict | None:
    """postwarden's own log line for this message (logger postwarden.decision), by queue id."""
    try:
        queue_id = result.queue_id or stack.postfix.queue_id_of(message_id, timeout=5)
    except HarnessError:
        return None
    marker = "postwarden.decision: "
    for line in stack.daemon.stderr().splitlines():
        if marker in line and f'"queue_id": "{queue_id}"' in line:
            return json.loads(line.split(marker, 1)[1])
    return None


def _fate(stack: Stack, result: SmtpResult, message_id: str) -> tuple[str, list[str]]:
    """Where the message went and the X-Postwarden headers it carries there."""
    if not result.accepted:
        return ("refused" if result.code >= 500 else "deferred, the sender will retry"), []
    postfix = stack.postfix

    def settled() -> tuple[str, list[str]] | None:
        delivered = postfix.find_delivered(message_id)
        if delivered is not None:
            return "delivered to the recipient's Maildir", [
                f"{name}: {value}" for name, value in delivered.items()
                if name.lower().startswith("x-postwarden-")]
        for entry in postfix.queue():
            if entry["queue_id"] == result.queue_id and entry["queue_name"] == "hold":
                headers = [line for line in postfix.postcat(result.queue_id).splitlines()
                           if line.lower().startswith("x-postwarden-")]
                return "held in Postfix's hold queue (postqueue -j: queue_name hold)", headers
        if f"{result.queue_id}: milter-discard" in postfix.log():
            return "discarded: accepted by SMTP, never delivered", []
        return None

    try:
        return wait_until(settled, 15, f"the fate of {message_id}")
    except HarnessError as exc:
        return f"unknown ({exc})", []


def run(samples: list[Path], family: str, keep: bool) -> int:
    kind = "a unix" if family == "unix" else "a TCP"
    print(f"Starting a private Postfix and postwarden (milter on {kind} socket) ...")
    with Stack(family=family, keep=keep, prefix="postwarden-demo-") as stack:
        print(f"  Postfix: 127.0.0.1:{stack.postfix.port}, config {stack.postfix.config_dir}")
        print(f"  postwarden: {stack.milter_spec}, config {stack.daemon.config_path}")
        print("  (internal_networks does not hold 127.0.0.1, so the samples arrive as inbound mail)\n")
        for path in samples:
            raw = ensure_crlf(path.read_bytes())
            message_id = _message_id(raw)
            started = time.perf_counter()
            result = stack.send(raw)
            elapsed = (time.perf_counter() - started) * 1000
            fate, headers = _fate(stack, result, message_id)
            print(f"== {path.name}")
            print(f"   SMTP client saw: {result}  ({elapsed:.0f} ms)")
            print(f"   outcome:         {fate}")
            for header in headers:
                print(f"   header:          {header}")
            decision = _decision(stack, result, message_id) if result.stage == "data" else None
            if decision:
                reasons = ", ".join(f"{r['id']}={r['score']:g}" for r in decision["reasons"]) or "none"
                print(f"   postwarden log:  {decision['action']}, score {decision['score']:g}, "
                      f"{decision['direction']}; reasons: {reasons}")
            print()
        traceback = "Traceback (most recent call last)" in stack.daemon.stderr()
        print("Stopping postwarden and Postfix" + (f"; kept {stack.root}" if keep else ""))
    if traceback:
        print("postwarden wrote a traceback to its log:\n" + stack.daemon_log_tail, file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", nargs="*", type=Path, help=f"messages to send (default: {SAMPLES}/*.eml)")
    parser.add_argument("--socket", choices=("unix", "inet"), default="unix",
                        help="milter socket family (default: unix)")
    parser.add_argument("--keep", action="store_true", help="keep the instance directory for inspection")
    args = parser.parse_args()
    missing = missing_components()
    if missing:
        print("demo: cannot run, missing: " + "; ".join(missing), file=sys.stderr)
        return 1
    samples = args.samples or sorted(SAMPLES.glob("*.eml"))
    order = ["ham.eml", "spam.eml", "gtube.eml", "malformed.eml"]
    samples.sort(key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name))
    try:
        return run(samples, args.socket, args.keep)
    except HarnessError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
