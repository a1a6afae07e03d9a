"""Helpers for the Postfix integration tests: messages to send and the daemon's health.

The controller itself (a private Postfix, the daemon, an SMTP client) is
``scripts/postfix_instance.py``, shared with the demo and the benchmark; conftest.py puts
``scripts/`` on ``sys.path``.
"""

from __future__ import annotations

import itertools
import os
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from postwarden.config import load_config
from postwarden.misdirection.factory import build_history

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
_counter = itertools.count(1)
# The daemon's max_scan_bytes in these tests: small enough that a test exceeds it cheaply, big
# enough for every ordinary message.
MAX_SCAN_BYTES = 65536


def new_message_id() -> str:
    return f"<t{os.getpid()}.{next(_counter)}@client.example.test>"


def make_message(body: str | bytes = "Hello,\n\nsee you at lunch.\n", subject: str | bytes = "Lunch",
                 extra_headers: list[bytes] | None = None, message_id: str | None = None
                 ) -> tuple[str, bytes]:
    """(Message-ID, raw CRLF message) with the headers a mail client writes."""
    message_id = message_id or new_message_id()
    subject_bytes = subject if isinstance(subject, bytes) else subject.encode()
    body_bytes = body if isinstance(body, bytes) else body.encode()
    lines = [
        b"From: Alice Sender <sender@example.test>",
        b"To: Bob User <user@example.test>",
        b"Subject: " + subject_bytes,
        b"Date: Wed, 02 Dec 2026 01:00:00 +0000",
        b"Message-ID: " + message_id.encode(),
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        *(extra_headers or []),
    ]
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body_bytes.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return message_id, raw


STATUS = "X-Postwarden-Status"
_STATUS_VALUE = re.compile(r"(ham|spam) score=-?\d+\.\d\d direction=(inbound|outbound)")


def status_of(message: EmailMessage) -> tuple[str, str]:
    """(label, direction) of the one X-Postwarden-Status a delivered message must carry."""
    values = message.get_all(STATUS) or []
    assert len(values) == 1, f"expected exactly one {STATUS}, got {values}"
    match = _STATUS_VALUE.fullmatch(str(values[0]))
    assert match, f"malformed {STATUS}: {values[0]!r}"
    return match.group(1), match.group(2)


def check_daemon_log(text: str, what: str = "postwarden serve") -> None:
    """Fail the test when the daemon wrote a Python traceback."""
    if "Traceback (most recent call last)" in text:
        pytest.fail(f"{what} wrote a traceback to stderr:\n{text[-4000:]}", pytrace=False)


# -- misdirected outbound mail: Alice, her usual contacts and a typo of one ----------------------

SENDER = "alice@example.test"
JOHN, TYPO, MARY = "john.smith@example.test", "jon.smith@example.test", "mary.jones@example.test"
HISTORY = {"enabled": True, "secret": "integration-site-secret-0123456789", "check_mx": False,
           "min_sender_messages": 5, "send_anyway_minutes": 10}


def outbound_message(to: list[str], subject: str, body: str) -> tuple[str, bytes]:
    """(Message-ID, raw message) from Alice to ``to``."""
    message_id, raw = make_message(body, subject=subject)
    raw = raw.replace(b"From: Alice Sender <sender@example.test>", f"From: Alice <{SENDER}>".encode())
    return message_id, raw.replace(b"To: Bob User <user@example.test>", f"To: {', '.join(to)}".encode())


def contact_count(config_path: Path, rcpt: str) -> int:
    """How many of Alice's messages to ``rcpt`` the daemon's history holds (read beside it)."""
    history = build_history(load_config(config_path))
    try:
        s, r = history.tok("a", SENDER), history.tok("a", rcpt)
        entry = history.store.counters([("c:" + s, r)]).get(("c:" + s, r))
        return entry.count if entry else 0
    finally:
        history.store.close()
