"""Envelope and client matchers: a table of (condition, envelope, hit?)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.rules.helpers import hit_ids, make, one_rule

RCPTS = ("bob@example.net", "carol@other.example")
CASES = [
    ("envelope_from: {equals: bounce@lists.example}", {"mail_from": "Bounce@Lists.example"}, True),
    ("envelope_from: {equals: bounce@lists.example}", {"mail_from": "x@lists.example"}, False),
    ("envelope_from_domain: {in: [lists.example]}", {"mail_from": "a@news.lists.example"}, True),
    ("envelope_from_domain: {in: [lists.example]}", {"mail_from": ""}, False),
    ("envelope_null_sender: true", {"mail_from": ""}, True),
    ("envelope_null_sender: true", {"mail_from": "a@b.example"}, False),
    ("rcpt: {equals: carol@other.example}", {"rcpts": RCPTS}, True),
    ("rcpt: {equals: carol@other.example, mode: all}", {"rcpts": RCPTS}, False),
    ("rcpt_domain: {in: [example.net, other.example], mode: all}", {"rcpts": RCPTS}, True),
    ("rcpt_domain: {in: [example.net], mode: all}", {"rcpts": RCPTS}, False),
    ("rcpt_domain: {in: [example.net], mode: all}", {"rcpts": ()}, False),  # no values: no match
    ("rcpt_count: {min: 2}", {"rcpts": RCPTS}, True),
    ("rcpt_count: {min: 3}", {"rcpts": RCPTS}, False),
    ("rcpt_count: {min: 1, max: 1}", {"rcpts": RCPTS[:1]}, True),
    ("client_ip: {in: [192.0.2.0/24]}", {"client_ip": "192.0.2.77"}, True),
    ("client_ip: {in: [192.0.2.0/24]}", {"client_ip": "198.51.100.1"}, False),
    ("client_ip: {in: [192.0.2.0/24]}", {"client_ip": "::ffff:192.0.2.9"}, True),  # v4-mapped
    ("client_ip: {in: ['2001:db8::/32']}", {"client_ip": "2001:db8:1::5"}, True),
    ("client_ip: {in: ['2001:db8::/32']}", {"client_ip": "2001:db9::5"}, False),
    ("client_ip: {list: lists/nets.txt}", {"client_ip": "203.0.113.200"}, True),
    ("client_ip: {list: lists/nets.txt}", {"client_ip": "203.0.114.1"}, False),
    ("client_ip: {list: lists/nets.txt}", {"client_ip": "2001:db8::1"}, True),
    ("client_ip: {list: lists/nets.txt}", {}, False),
    ("helo: {regex: '^\\d+\\.\\d+\\.\\d+\\.\\d+$'}", {"helo": "192.0.2.1"}, True),
    ("helo: {regex: '^\\d+\\.\\d+\\.\\d+\\.\\d+$'}", {"helo": "[192.0.2.1]"}, False),
    ("client_name: {regex: '(dsl|dynamic)'}", {"client_name": "host-1.dynamic.isp.example"}, True),
    ("client_name: {regex: '(dsl|dynamic)'}", {"client_name": "mail.example.org"}, False),
    ("client_name_missing: true", {"client_ip": "192.0.2.1", "client_name": "unknown"}, True),
    ("client_name_missing: true", {"client_ip": "192.0.2.1", "client_name": "[192.0.2.1]"}, True),
    ("client_name_missing: true", {"client_ip": "192.0.2.1", "client_name": "mx.example.org"}, False),
    ("authenticated: true", {"auth_user": "alice"}, True),
    ("authenticated: true", {}, False),
    ("authenticated: false", {}, True),
    ("auth_user: {in: [newsletter, alice]}", {"auth_user": "Alice"}, True),
    ("auth_user: {in: [newsletter]}", {"auth_user": "alice"}, False),
]


@pytest.mark.parametrize(
    ("match", "envelope", "expected"), CASES, ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(CASES)]
)
def test_envelope_and_client_matchers(tmp_path: Path, match: str, envelope: dict, expected: bool) -> None:
    nets = "# blocked\n203.0.113.0/24\n2001:db8::/32  # a v6 net\n"
    check = one_rule(tmp_path, match, lists={"lists/nets.txt": nets})
    assert (hit_ids(check, make(), **envelope) == ["T"]) is expected
