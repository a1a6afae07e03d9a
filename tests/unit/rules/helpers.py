"""Build messages and one-rule checks for the rule tables."""

from __future__ import annotations

import io
import textwrap
import zipfile
from email.message import EmailMessage
from pathlib import Path

from postwarden.context import INBOUND, Hit, ScanContext
from postwarden.message import parse_message
from postwarden.rules.build import Env
from postwarden.rules.check import RulesCheck
from postwarden.rules.counters import HitCounter
from postwarden.rules.dns import DnsLists
from postwarden.rules.loader import load_rules
from postwarden.transaction import transaction_from_bytes

MZ = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode"


def make(
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    text: str | None = "Hello.",
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    calendar: str | None = None,
) -> bytes:
    """A MIME message; defaults are a plain, well-formed ham message."""
    base = {
        "From": "Alice <alice@example.org>",
        "To": "bob@example.net",
        "Subject": "lunch",
        "Date": "Mon, 2 Sep 2002 13:17:22 -0700",
        "Message-ID": "<1@example.org>",
    }
    items = list(headers) if isinstance(headers, list) else list({**base, **(headers or {})}.items())
    msg = EmailMessage()
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    if calendar is not None:
        msg.add_attachment(calendar.encode(), maintype="text", subtype="calendar", disposition="inline")
    for filename, ctype, data in attachments or []:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    # Written by hand, so tests can have what the email package refuses (two From headers).
    head = "".join(f"{name}: {value}\n" for name, value in items if value is not None)
    return head.encode() + msg.as_bytes()


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"content")
    return buffer.getvalue()


def rule_file(match: str, extra: str = "") -> str:
    """One rule T with the given match YAML (indented under match:)."""
    body = textwrap.indent(textwrap.dedent(match).strip(), "      ")
    return f"rules:\n  - id: T\n    description: test rule\n    score: 1\n{extra}    match:\n{body}\n"


def one_rule(
    tmp_path: Path,
    match: str,
    lists: dict[str, str] | None = None,
    local_domains: tuple[str, ...] = (),
    dns: DnsLists | None = None,
    trusted_authserv_ids: tuple[str, ...] = (),
) -> RulesCheck:
    directory = tmp_path / "rules"
    directory.mkdir(exist_ok=True)
    (directory / "10-test.yaml").write_text(rule_file(match))
    for name, content in (lists or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)
    env = Env(local_domains=frozenset(local_domains), dns=dns,
              trusted_authserv_ids=frozenset(trusted_authserv_ids))
    return RulesCheck(load_rules([directory], env), dns=dns, counter=HitCounter())


def evaluate(
    check: RulesCheck,
    raw: bytes,
    direction: str = INBOUND,
    *,
    client_ip: str | None = None,
    helo: str | None = None,
    client_name: str | None = None,
    mail_from: str = "",
    rcpts: tuple[str, ...] = (),
    auth_user: str | None = None,
) -> list[Hit]:
    txn = transaction_from_bytes(raw)
    txn.client_ip, txn.helo, txn.client_name = client_ip, helo, client_name
    txn.mail_from, txn.rcpts, txn.auth_user = mail_from, list(rcpts), auth_user
    ctx = ScanContext(txn=txn, message=parse_message(txn.raw_message()), direction=direction)
    return list(check.evaluate(ctx))


def hit_ids(check: RulesCheck, raw: bytes, direction: str = INBOUND, **kwargs: object) -> list[str]:
    return [h.id for h in evaluate(check, raw, direction, **kwargs) if h.kind == "rule"]  # type: ignore[arg-type]
