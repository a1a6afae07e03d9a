"""Policy order, socket specs and the transactional reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwarden.config import Config
from postwarden.context import INBOUND, Hit, ScanContext
from postwarden.message import ParsedMessage
from postwarden.milter.socketspec import parse_socket_spec
from postwarden.policy import decide
from postwarden.runtime import Runtime, build_bundle
from postwarden.transaction import Transaction
from postwarden.verdict import Action


def verdict_for(*hits: Hit):  # type: ignore[no-untyped-def]
    ctx = ScanContext(Transaction(), ParsedMessage(), INBOUND)
    return decide(list(hits), ctx, Config())


def test_allowlist_beats_reject_and_shadow_changes_nothing() -> None:
    verdict = verdict_for(Hit("BAD", 50, Action.REJECT), Hit("FRIEND", 0, Action.ACCEPT))
    assert verdict.action is Action.ACCEPT and verdict.label == "allowlisted"
    shadow = verdict_for(Hit("TRY", 100, Action.REJECT, shadow=True))
    assert shadow.action is Action.ACCEPT and shadow.score == 0
    assert "TRY=100.00(shadow)" in dict(shadow.headers)["X-Postwarden-Reasons"]


@pytest.mark.parametrize(("score", "action", "label"), [
    (4.9, Action.ACCEPT, "ham"), (5, Action.ACCEPT, "spam"),
    (10, Action.QUARANTINE, "spam"), (15, Action.REJECT, "spam"),
])
def test_thresholds(score: float, action: Action, label: str) -> None:
    verdict = verdict_for(Hit("S", score))
    assert (verdict.action, verdict.label) == (action, label)


def test_reply_text_is_made_safe_for_libmilter() -> None:
    verdict = verdict_for(Hit("R", 0, Action.REJECT, reply="100% spam\r\nInjected: x"))
    assert verdict.smtp_text == "100 percent spam Injected: x"


def test_strongest_direct_action_wins() -> None:
    verdict = verdict_for(Hit("A", 0, Action.TEMPFAIL), Hit("B", 0, Action.QUARANTINE))
    assert verdict.action is Action.QUARANTINE


@pytest.mark.parametrize(("spec", "libmilter", "postfix"), [
    ("unix:/var/spool/postfix/postwarden/pw.sock", "unix:/var/spool/postfix/postwarden/pw.sock",
     "unix:postwarden/pw.sock"),
    ("unix:/run/pw.sock", "unix:/run/pw.sock", "unix:/run/pw.sock"),
    ("inet:8899@127.0.0.1", "inet:8899@127.0.0.1", "inet:127.0.0.1:8899"),
    ("inet6:8899@[::1]", "inet6:8899@::1", "inet:[::1]:8899"),
])
def test_socket_specs(spec: str, libmilter: str, postfix: str) -> None:
    parsed = parse_socket_spec(spec)
    assert (parsed.libmilter, parsed.postfix()) == (libmilter, postfix)


def test_reload_keeps_the_last_good_configuration(tmp_path: Path) -> None:
    path = tmp_path / "postwarden.yaml"
    path.write_text("reply:\n  reject: first text\n")
    runtime = Runtime(path, build_bundle(path))
    path.write_text("reply:\n  reject: second text\n  bogus: 1\n")
    ok, message = runtime.reload()
    assert not ok and f"{path}:3: reply.bogus: unknown key" in message
    assert runtime.current.config.reply.reject == "first text"
    path.write_text("reply:\n  reject: second text\n")
    ok, _ = runtime.reload()
    assert ok and runtime.current.config.reply.reject == "second text"
    assert runtime.current.generation == 1
