"""Misdirected outbound mail from a user who logs in (SMTP AUTH), through a real Postfix.

Loopback is outside ``internal_networks`` here, so the only thing that makes a message
outbound is that the client authenticated: Postfix's Cyrus SASL checks the password against
the instance's private sasldb and hands the user name to the milter as ``{auth_authen}``.
The same message from a client that did not log in is a stranger's mail, and the recipient
history neither scores it nor learns from it. One Postfix and one daemon serve the module;
the history starts empty and learns only what Postfix accepted; each test writes to addresses
of its own (or compares counts before and after), so none depends on another having run.
"""

from __future__ import annotations

import json
import re
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from postfix_harness import (
    HISTORY,
    JOHN,
    MARY,
    SENDER,
    TYPO,
    check_daemon_log,
    contact_count,
    outbound_message,
    status_of,
)
from postfix_instance import DOMAIN, SmtpResult, Stack, smtp_send, wait_until

pytestmark = pytest.mark.postfix

PASSWORD = "correct horse battery staple"
ALICE = ("alice", PASSWORD)
MARY_TYPO = "mary.jnoes@example.test"
PETER = "peter.brown@example.test"
SIGNAL = re.compile(r"(\w+) ([+-]\d+\.\d+)")
BODY = "John, the contract draft.\n"


@dataclass
class Sent:
    result: SmtpResult  # what Alice's client saw
    decision: dict | None  # the decision line postwarden logged, None when it saw no message
    message_id: str


def send(stack: Stack, to: list[str], subject: str, auth: tuple[str, str] | None = ALICE,
         mechanism: str = "") -> Sent:
    """Send one message from Alice, logged in as ``auth`` (None: not logged in)."""
    offset = len(stack.daemon.stderr())
    message_id, raw = outbound_message(to, subject, BODY)
    result = stack.send(raw, sender=SENDER, rcpts=to, auth=auth, mechanism=mechanism)
    # The decision line is written before the milter answers, so it is there by now.
    lines = [line.split("postwarden.decision: ", 1)[1] for line in stack.daemon.stderr()[offset:].splitlines()
             if "postwarden.decision: " in line]
    return Sent(result, json.loads(lines[-1]) if lines else None, message_id)


def count(stack: Stack, rcpt: str) -> int:
    return contact_count(stack.daemon.config_path, rcpt)


def recipient_reasons(decision: dict | None) -> list[dict]:
    assert decision is not None, "postwarden logged no decision for the message"
    return [r for r in decision["reasons"] if r["kind"] == "recipient"]


def signals(decision: dict | None, rcpt: str) -> dict[str, float]:
    """The strongest signals of one recipient's score, from its reason's detail
    (``addr p=0.010 (threshold 0.975): tie_share +1.75, contact_count +0.78, ...``)."""
    details = [r["detail"] for r in recipient_reasons(decision) if r["detail"].startswith(rcpt + " ")]
    assert len(details) == 1, f"expected one reason for {rcpt}, got {details}"
    return {name: float(value) for name, value in SIGNAL.findall(details[0].split("): ", 1)[1])}


@pytest.fixture(scope="module")
def sasl_stack(sasl_available: None) -> Iterator[Stack]:
    stack = Stack(sasl_users={"alice": PASSWORD}, internal_networks=["10.255.255.0/24"],
                  local_domains=[DOMAIN], recipient_history=HISTORY).start()
    try:
        for i in range(6):  # Alice's usual mail, learned as Postfix accepts it
            assert send(stack, [JOHN], f"Contract {i}").result.accepted
            assert send(stack, [MARY, JOHN], f"Meeting {i}").result.accepted
        yield stack
    finally:
        stack.close()
        check_daemon_log(stack.daemon_log_tail)


@pytest.fixture
def stack(sasl_stack: Stack) -> Iterator[Stack]:
    offset = len(sasl_stack.daemon.stderr())
    yield sasl_stack
    check_daemon_log(sasl_stack.daemon.stderr()[offset:])


def test_the_logged_in_user_reaches_postwarden_and_makes_the_mail_outbound(stack: Stack) -> None:
    sent = send(stack, [JOHN], "Contract 7")
    assert sent.result.accepted, sent.result
    assert sent.decision is not None and sent.decision["auth_user"] == f"alice@{DOMAIN}"
    assert sent.decision["direction"] == "outbound" and recipient_reasons(sent.decision)
    assert status_of(stack.postfix.wait_delivered(sent.message_id))[1] == "outbound"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_typo_recipient_gets_550_naming_the_usual_contact(stack: Stack, mechanism: str) -> None:
    result = send(stack, [TYPO], f"Contract final ({mechanism})", mechanism=mechanism).result
    assert result.code == 550, result
    assert result.text.startswith(f"5.7.1 Possibly misdirected: {TYPO}"), result
    assert f"({JOHN})" in result.text and "send the same message again within 10 minutes" in result.text


def test_sending_it_again_within_the_window_passes(stack: Stack) -> None:
    first = send(stack, [MARY_TYPO], "Agenda resend").result
    assert first.code == 550 and f"({MARY})" in first.text, first
    again = send(stack, [MARY_TYPO], "Agenda resend").result
    assert again.accepted, again
    assert count(stack, MARY_TYPO) == 1  # the confirmed recipient is now a contact


def test_normal_mail_passes_and_the_history_learns_a_new_contact(stack: Stack) -> None:
    before = count(stack, MARY)
    first = send(stack, [MARY, JOHN, PETER], "Kick-off with Peter")
    assert first.result.accepted, first.result
    assert count(stack, MARY) == before + 1 and count(stack, PETER) == 1
    # The decision line names the signals behind each recipient's score: Peter was someone
    # Alice never wrote to; the next message to him alone is scored as mail to a contact.
    assert signals(first.decision, PETER).get("unknown_x_history", 0) > 0
    again = send(stack, [PETER], "Peter, the minutes")
    assert again.result.accepted, again.result
    assert [r["id"] for r in recipient_reasons(again.decision)] == ["RCPT_OK"]
    # Scored by the known-contacts model now: a contact signal speaks, the never-mailed ones not.
    known = signals(again.decision, PETER)
    assert any(known.get(k, 0) != 0 for k in ("contact_count", "contact_weight")), known
    assert known.get("unknown_x_history", 0) == 0 and known.get("never_mailed", 0) == 0, known
    assert count(stack, PETER) == 2


def test_the_same_typo_from_a_client_that_did_not_log_in_is_not_scored(stack: Stack) -> None:
    typo = "john.smiht@example.test"
    sent = send(stack, [typo], "Contract from outside", auth=None)
    assert sent.result.accepted, sent.result
    assert sent.decision is not None
    assert (sent.decision["auth_user"], sent.decision["direction"]) == (None, "inbound")
    assert recipient_reasons(sent.decision) == []
    assert status_of(stack.postfix.wait_delivered(sent.message_id))[1] == "inbound"
    assert count(stack, typo) == 0  # nor learned from
    # The very same message from Alice, logged in, is stopped.
    logged_in = send(stack, [typo], "Contract from outside").result
    assert logged_in.code == 550 and f"({JOHN})" in logged_in.text, logged_in


def test_a_wrong_password_gets_535_and_never_reaches_the_milter(stack: Stack) -> None:
    wrong = send(stack, [JOHN], "Contract 8", auth=("alice", "not the password"))
    assert (wrong.result.stage, wrong.result.code) == ("auth", 535), wrong.result
    assert wrong.result.text.startswith("5.7.8"), wrong.result
    assert wrong.decision is None
    unknown = send(stack, [JOHN], "Contract 9", auth=("mallory", PASSWORD)).result
    assert (unknown.stage, unknown.code) == ("auth", 535), unknown


def test_a_reload_closes_the_old_history_store_once_the_last_session_on_it_ends(stack: Stack) -> None:
    generation = _generation(stack)
    with smtplib.SMTP("127.0.0.1", stack.postfix.port, timeout=30) as session:
        session.ehlo()
        session.login(*ALICE)  # the milter connection, and the bundle it took, exist from here on
        answer = stack.daemon.control("reload")
        assert answer.returncode == 0, answer.stderr
        assert _generation(stack) == generation + 1
        closed = f"closed the resources of generation {generation} "
        assert closed not in stack.daemon.stderr()  # still in use by this session
        before = count(stack, MARY)
        _, raw = outbound_message([MARY, JOHN], "Meeting, across the reload", BODY)
        assert smtp_send(stack.postfix.port, raw, sender=SENDER, rcpts=[MARY, JOHN], client=session).accepted
        assert count(stack, MARY) == before + 1  # learned through the old bundle's store
    wait_until(lambda: closed + "(its last connection closed)" in stack.daemon.stderr(), 15,
               "the old bundle's store to close")


def _generation(stack: Stack) -> int:
    answer = stack.daemon.control("status")
    assert answer.returncode == 0, answer.stderr
    return int(answer.stdout.split(" generation ", 1)[1].split()[0])
