"""`postwarden scan`: the daemon's engine run offline on stored mail, one line per message."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from postwarden.authresults import authserv_ids
from postwarden.authresults import parse as parse_auth_results
from postwarden.engine import Engine
from postwarden.envelope import fill_envelope_from_headers
from postwarden.message import decode_header_value
from postwarden.sources import StoredMessage, read_messages
from postwarden.transaction import transaction_from_bytes
from postwarden.verdict import Verdict


@dataclass
class Envelope:
    """Envelope options of `scan`; what is left empty is taken from the headers."""

    sender: str | None = None
    rcpts: list[str] = field(default_factory=list)
    client_ip: str | None = None
    helo: str | None = None
    auth_user: str | None = None


def scan_one(engine: Engine, stored: StoredMessage, envelope: Envelope) -> Verdict:
    txn = transaction_from_bytes(stored.raw, max_body=engine.config.max_scan_bytes)
    txn.mail_from = envelope.sender or ""
    txn.rcpts = list(envelope.rcpts)
    txn.client_ip = envelope.client_ip
    txn.helo = envelope.helo
    txn.auth_user = envelope.auth_user
    fill_envelope_from_headers(txn)
    verdict = engine.decide_safely(txn)
    verdict.authentication = authentication_of(txn.headers, engine.config.trusted_authserv_ids)
    return verdict


def authentication_of(headers: list[tuple[str, bytes]], trusted_ids: list[str]) -> list[dict[str, object]]:
    """Each Authentication-Results result, with whether the rules believe it (its authserv-id
    is in ``trusted_authserv_ids``)."""
    trusted = authserv_ids(trusted_ids)
    return [{"authserv_id": r.authserv_id, "result": r.describe(), "trusted": r.authserv_id in trusted}
            for name, value in headers if name.lower() == "authentication-results"
            for r in parse_auth_results(decode_header_value(value))]


def format_line(source: str, verdict: Verdict, as_json: bool) -> str:
    if as_json:
        return json.dumps({"source": source, **verdict.as_dict()}, ensure_ascii=False)
    reply = f" {verdict.smtp_code} {verdict.smtp_xcode} {verdict.smtp_text}" if verdict.smtp_code else ""
    reasons = ", ".join(f"{r.id}={r.score:.2f}" for r in verdict.reasons)
    return (f"{source}: {verdict.action.value} ({verdict.label}, score {verdict.score:.2f}, "
            f"{verdict.direction}){reply}" + (f" [{reasons}]" if reasons else ""))


def run_scan(engine: Engine, paths: list[str], envelope: Envelope, as_json: bool,
             out: TextIO | None = None) -> tuple[int, float]:
    """Scan every message; return (messages, seconds)."""
    out = out or sys.stdout
    count = 0
    started = time.perf_counter()
    for stored in read_messages(paths):
        verdict = scan_one(engine, stored, envelope)
        out.write(format_line(stored.source, verdict, as_json) + "\n")
        count += 1
    return count, time.perf_counter() - started
