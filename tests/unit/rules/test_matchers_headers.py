"""Header matchers: a table of (condition, message, hit?)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.rules.helpers import hit_ids, make, one_rule

SPOOF = make({"From": '"ceo@example.org" <x@evil.example>'})
SAME = make({"From": '"alice@example.org" <alice@example.org>'})
TWO_RECEIVED = make(
    [
        ("Received", "from a by b"),
        ("Received", "from c by d"),
        ("From", "a@example.org"),
        ("Subject", "=?utf-8?q?Caf=C3=A9_offer?="),
    ]
)
TWO_FROM = make([("From", "a@example.org"), ("From", "b@example.org")])

CASES = [
    ("header: {name: Message-ID, exists: false}", make({"Message-ID": None}), True),
    ("header: {name: Message-ID, exists: false}", make(), False),
    ("header: {name: message-id, exists: true}", make(), True),
    ("header: {name: X-Mailer, regex: '^PHPMailer'}", make({"X-Mailer": "PHPMailer 6.0"}), True),
    ("header: {name: X-Mailer, regex: '^PHPMailer'}", make({"X-Mailer": "Thunderbird"}), False),
    ("header: {name: X-Mailer, equals: 'phpmailer 6.0'}", make({"X-Mailer": "PHPMailer 6.0"}), True),
    (
        "header: {name: X-Mailer, equals: 'phpmailer 6.0', case_sensitive: true}",
        make({"X-Mailer": "PHPMailer 6.0"}),
        False,
    ),
    ("header: {name: Received, contains: 'from c'}", TWO_RECEIVED, True),  # any occurrence
    ("header: {name: Received, contains: 'from c', mode: all}", TWO_RECEIVED, False),
    ("header: {name: Received, contains: 'from', mode: all}", TWO_RECEIVED, True),
    ("header: {name: X-Tag, in: [red, Blue]}", make({"X-Tag": "blue"}), True),
    ("header_count: {name: From, min: 2}", TWO_FROM, True),
    ("header_count: {name: From, min: 2}", make(), False),
    ("header_count: {name: Received, max: 0}", make(), True),
    ("subject: {contains: café}", TWO_RECEIVED, True),  # RFC 2047 decoded
    ("subject: {regex: '^lunch$'}", make(), True),
    ("subject: {regex: '^lunch$'}", make({"Subject": "lunch tomorrow"}), False),
    ("from_address: {equals: ALICE@example.org}", make(), True),
    ("from_address: {in: ['@example.org']}", make(), True),
    ("from_address: {in: [bob@example.org]}", make(), False),
    ("from_domain: {in: [example.org]}", make({"From": "a@mail.example.org"}), True),  # subdomain
    ("from_domain: {in: [example.org]}", make({"From": "a@notexample.org"}), False),
    ("from_domain: {equals: example.org}", make({"From": "a@mail.example.org"}), False),
    ("from_domain: {local: true}", make({"From": "a@mail.example.net"}), True),
    ("from_domain: {local: true}", make(), False),
    ("from_name: {contains: alice}", make(), True),
    ("from_name: {contains: alice}", make({"From": "alice@example.org"}), False),
    ("reply_to_domain: {list: lists/free.txt}", make({"Reply-To": "x@gmail.com"}), True),
    ("reply_to_domain: {list: lists/free.txt}", make(), False),
    ("reply_to_address: {regex: 'payroll'}", make({"Reply-To": "Pay <payroll@x.example>"}), True),
    ("sender_domain: {in: [lists.example]}", make({"Sender": "owner@lists.example"}), True),
    ("sender_name: {contains: bob}", make({"Sender": "owner@lists.example"}), False),
    ("from_name_spoofs_address: true", SPOOF, True),
    ("from_name_spoofs_address: true", SAME, False),
    ("from_name_spoofs_address: false", SAME, True),
]


@pytest.mark.parametrize(
    ("match", "raw", "expected"), CASES, ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(CASES)]
)
def test_header_matchers(tmp_path: Path, match: str, raw: bytes, expected: bool) -> None:
    check = one_rule(
        tmp_path, match, lists={"lists/free.txt": "# freemail\ngmail.com\n"}, local_domains=("example.net",)
    )
    assert (hit_ids(check, raw) == ["T"]) is expected
