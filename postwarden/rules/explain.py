"""`postwarden scan --explain`: which rules hit a message, with scores, in evaluation order.

Each verdict line of `scan` is followed by one indented line per reason: rule hits with the
file and line of the rule and what matched, then other checks' reasons. With ``--json`` the
same goes into an ``explain`` list of the message's object.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from postwarden.engine import Engine
from postwarden.rules.check import RulesCheck
from postwarden.scan import Envelope, format_line, scan_one
from postwarden.sources import read_messages
from postwarden.verdict import Verdict


def _rule_locations(engine: Engine) -> dict[str, str]:
    out: dict[str, str] = {}
    for check in engine.checks:
        if isinstance(check, RulesCheck):
            out.update({rule.id: rule.where for rule in check.ruleset.rules})
    return out


def explain(verdict: Verdict, locations: dict[str, str]) -> list[dict[str, Any]]:
    items = []
    for reason in verdict.reasons:
        item = reason.as_dict()
        if reason.kind == "rule" and reason.id in locations:
            item["where"] = locations[reason.id]
        items.append(item)
    return items


def explain_text(items: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in items:
        flags = [item["action"]] if "action" in item else []
        if item.get("shadow"):
            flags.append("shadow")
        text = f"  {item['kind']:<6} {item['id']:<32} {item['score']:+8.2f}"
        if flags:
            text += f" {','.join(flags)}"
        if "where" in item:
            text += f"  {item['where']}"
        if item.get("detail"):
            text += f"  {item['detail']}"
        lines.append(text)
    return lines or ["  (no rule hit)"]


def run_explained_scan(engine: Engine, paths: list[str], envelope: Envelope, as_json: bool,
                       out: TextIO | None = None) -> tuple[int, float]:
    """`scan` with the explanation of every verdict; return (messages, seconds)."""
    out = out or sys.stdout
    locations = _rule_locations(engine)
    count = 0
    started = time.perf_counter()
    for stored in read_messages(paths):
        verdict = scan_one(engine, stored, envelope)
        items = explain(verdict, locations)
        if as_json:
            line = json.loads(format_line(stored.source, verdict, True))
            line["explain"] = items
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            out.write(format_line(stored.source, verdict, False) + "\n")
            out.write("\n".join(explain_text(items)) + "\n")
        count += 1
    return count, time.perf_counter() - started
