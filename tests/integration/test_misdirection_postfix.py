"""Misdirected outbound mail through a real Postfix: what the sending user's client sees.

Mail from 127.0.0.1 counts as outbound here (internal_networks holds it), except in the
inbound stack, whose configuration leaves loopback outside the internal networks. The history
starts empty and learns only from what Postfix accepted, so every stop below rests on mail that
really went through. The same stories for a client that logs in with SMTP AUTH are in
test_misdirection_sasl.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from postfix_harness import HISTORY, JOHN, MARY, SENDER, TYPO, check_daemon_log, outbound_message
from postfix_harness import contact_count as _contact_count
from postfix_instance import Stack, find_postwarden

pytestmark = pytest.mark.postfix


def outbound(to: list[str], subject: str, body: str) -> bytes:
    return outbound_message(to, subject, body)[1]


def send(stack: Stack, to: list[str], subject: str, body: str = "John, the contract draft.\n"):
    return stack.send(outbound(to, subject, body), sender=SENDER, rcpts=to)


def contact_count(stack: Stack, rcpt: str) -> int:
    return _contact_count(stack.daemon.config_path, rcpt)


def _stack(tmp: Path, internal: list[str]) -> Stack:
    return Stack(internal_networks=internal, local_domains=["example.test"], recipient_history=HISTORY)


@pytest.fixture(scope="module")
def outbound_stack(postfix_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = _stack(tmp_path_factory.mktemp("out"), ["127.0.0.0/8"]).start()
    try:
        for i in range(6):  # Alice's usual mail, learned as Postfix accepts it
            assert send(stack, [JOHN], f"Contract {i}").accepted
            assert send(stack, [MARY, JOHN], f"Meeting {i}", "Mary and John, the agenda.\n").accepted
        yield stack
    finally:
        stack.close()
        check_daemon_log(stack.daemon_log_tail)


def test_a_typo_recipient_gets_550_naming_the_usual_contact(outbound_stack: Stack) -> None:
    result = send(outbound_stack, [TYPO], "Contract final")
    assert result.code == 550, result
    assert result.text.startswith("5.7.1 Possibly misdirected: jon.smith@example.test"), result
    assert JOHN in result.text and "send the same message again within 10 minutes" in result.text


def test_sending_it_again_within_the_window_passes_and_teaches_the_contact(outbound_stack: Stack) -> None:
    assert send(outbound_stack, [TYPO], "Contract resend").code == 550
    again = send(outbound_stack, [TYPO], "Contract resend")
    assert again.accepted, again
    assert contact_count(outbound_stack, TYPO) == 1
    assert send(outbound_stack, [TYPO], "Something new").accepted  # now a contact


def test_normal_mail_to_known_contacts_passes_and_updates_the_history(outbound_stack: Stack) -> None:
    before = contact_count(outbound_stack, MARY)
    result = send(outbound_stack, [MARY, JOHN], "Meeting 7", "Mary and John, the agenda.\n")
    assert result.accepted, result
    assert contact_count(outbound_stack, MARY) == before + 1


def test_a_sent_folder_imported_after_going_live_counts_what_passed_once(outbound_stack: Stack,
                                                                         tmp_path: Path) -> None:
    """The daemon marks what it learns by Message-ID; the Sent folder's copy of a message that
    went through Postfix is skipped by `history import`, a message that did not pass is learned."""
    before = contact_count(outbound_stack, MARY)
    message_id, raw = outbound_message([MARY], "Agenda draft", "Mary, the agenda draft.\n")
    assert outbound_stack.send(raw, sender=SENDER, rcpts=[MARY]).accepted
    assert contact_count(outbound_stack, MARY) == before + 1
    other = outbound_message([MARY], "Older agenda", "Mary, the older agenda.\n")[1]
    sent = tmp_path / "Sent.mbox"
    sent.write_bytes(b"".join(b"From sender@example.test Sat Dec  5 04:00:00 2026\n"
                              + copy.replace(b"\r\n", b"\n") + b"\n" for copy in (raw, other)))
    imported = subprocess.run([find_postwarden() or "postwarden", "history", "import", "-c",
                               str(outbound_stack.daemon.config_path), str(sent)],
                              check=True, capture_output=True, text=True)
    assert "learned 1 message(s) from 1 sender(s), skipped 1 already learned" in imported.stdout, message_id
    assert contact_count(outbound_stack, MARY) == before + 2


def test_inbound_mail_is_never_scored(postfix_available: None, tmp_path: Path) -> None:
    stack = _stack(tmp_path, ["10.255.255.0/24"]).start()
    try:
        mbox = tmp_path / "sent.mbox"
        mbox.write_text("".join(
            f"From {SENDER} Wed Dec  2 01:00:00 2026\nFrom: {SENDER}\nTo: {JOHN}\nSubject: s{i}\n"
            f"Date: Wed, 2 Dec 2026 01:{i:02d}:00 +0000\n\nJohn, item {i}.\n\n" for i in range(8)))
        subprocess.run([find_postwarden() or "postwarden", "history", "import", "-c",
                        str(stack.daemon.config_path), str(mbox)], check=True, capture_output=True)
        assert contact_count(stack, JOHN) == 8
        eml = tmp_path / "typo.eml"
        eml.write_bytes(outbound([TYPO], "Contract final", "John, the contract draft.\n"))
        offline = subprocess.run([find_postwarden() or "postwarden", "scan", "-c",
                                  str(stack.daemon.config_path), "--json", "--auth-user", "alice",
                                  str(eml)], check=True, capture_output=True, text=True)
        assert json.loads(offline.stdout)["action"] == "reject"  # the same message, sent by Alice
        result = send(stack, [TYPO], "Contract final")
        assert result.accepted, result
        assert contact_count(stack, TYPO) == 0  # and inbound mail teaches nothing
    finally:
        stack.close()
        check_daemon_log(stack.daemon_log_tail)
