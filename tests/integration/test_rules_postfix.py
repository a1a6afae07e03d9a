"""The rule layer inside a real Postfix: what an SMTP client and a recipient see.

A site rules directory (rules.local_directory) adds rules beside the shipped pack. Mail comes
from 127.0.0.1, which the test configuration does not count as internal, so it is inbound.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from postfix_harness import STATUS, check_daemon_log, make_message
from postfix_instance import Stack, free_port, wait_until

pytestmark = pytest.mark.postfix

SITE_RULES = """rules:
  - id: PARTNER_ALLOWLIST
    description: our partner sends us tools
    direction: inbound
    action: accept
    score: 0
    match:
      from_domain: {in: [partner.example]}
  - id: NO_WIDGETS
    description: widget offers are refused at SMTP time
    direction: inbound
    action: reject
    reply: We do not accept widget offers here
    match:
      subject: {contains: widgets}
  - id: RELAYED_BY_POSTFIX
    description: a Postfix Received line reached the milter
    direction: inbound
    action: reject
    reply: A Postfix Received line was seen
    match:
      header: {name: Received, regex: '[(]Postfix[)]'}
  - id: TRY_LUNCH_RULE
    description: a candidate rule, watched in shadow mode before it counts
    shadow: true
    score: 50
    action: reject
    reply: This reply must never be sent
    match:
      body: {contains: lunch}
"""
MZ = b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA=="


def site_dir(root: Path, text: str = SITE_RULES) -> Path:
    directory = root / "site-rules"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "10-site.yaml").write_text(text)
    return directory


def with_exe(sender: str) -> bytes:
    """A message from ``sender`` with a Windows program attached, as a mail client sends it."""
    boundary = "b0undary"
    body = (f"--{boundary}\nContent-Type: text/plain\n\nThe tool you asked for.\n"
            f"--{boundary}\nContent-Type: application/octet-stream; name=tool.exe\n"
            "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=tool.exe\n\n"
            f"{MZ.decode()}\n--{boundary}--\n")
    _, raw = make_message(body, subject="the tool")
    raw = raw.replace(b"From: Alice Sender <sender@example.test>", f"From: {sender}".encode())
    return raw.replace(b"Content-Type: text/plain; charset=utf-8",
                       f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode())


@pytest.fixture(scope="module")
def rules_stack(postfix_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    rules = site_dir(tmp_path_factory.mktemp("rules"))
    stack = Stack(rules={"local_directory": str(rules)}).start()
    try:
        yield stack
    finally:
        stack.close()
        check_daemon_log(stack.daemon_log_tail)


def test_a_rule_reply_text_reaches_the_smtp_client(rules_stack: Stack) -> None:
    message_id, raw = make_message("Best prices.\n", subject="cheap widgets")
    result = rules_stack.send(raw)
    queue_id = rules_stack.postfix.queue_id_of(message_id)
    expected = f"5.7.1 We do not accept widget offers here (queue id {queue_id})"
    assert (result.code, result.text) == (550, expected), result
    assert rules_stack.postfix.find_delivered(message_id) is None


def test_postfix_does_not_show_the_milter_its_own_received_line(rules_stack: Stack) -> None:
    """The premise of ``received.arrival_hop``: the text check has to rebuild the receiving hop."""
    message_id, raw = make_message("Plain words.\n", subject="no trace yet")
    assert b"Received:" not in raw
    result = rules_stack.send(raw)
    assert result.accepted, result
    delivered = rules_stack.postfix.wait_delivered(message_id)
    assert "(Postfix)" in str(delivered["Received"])  # it is added, after the milter has decided
    relayed = (b"Received: from relay.example (relay.example [192.0.2.8]) by mx.example (Postfix) "
               b"with ESMTP id 1; Tue, 1 Dec 2026 10:00:00 +0000\r\n" + raw)
    result = rules_stack.send(relayed)
    text = result.text.partition(" (queue id ")[0]
    assert (result.code, text) == (550, "5.7.1 A Postfix Received line was seen"), result


def test_a_shipped_rule_rejects_an_executable_with_its_reply(rules_stack: Stack) -> None:
    result = rules_stack.send(with_exe("Mallory <mallory@stranger.example>"))
    assert result.code == 550, result
    assert "Executable attachments are not accepted here" in result.text


def test_an_allowlist_rule_wins_over_a_reject_rule(rules_stack: Stack) -> None:
    raw = with_exe("Pat <pat@partner.example>")
    message_id = raw.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()
    result = rules_stack.send(raw)
    assert result.accepted, result
    delivered = rules_stack.postfix.wait_delivered(message_id)
    assert str(delivered[STATUS]).startswith("allowlisted ")
    reasons = str(delivered["X-Postwarden-Reasons"])
    assert "PARTNER_ALLOWLIST" in reasons and "EXECUTABLE_ATTACHMENT=20.00" in reasons


def test_a_shadow_rule_changes_nothing_but_is_reported(rules_stack: Stack) -> None:
    message_id, raw = make_message("See you at lunch.\n", subject="Friday")
    result = rules_stack.send(raw)
    assert result.accepted, result
    delivered = rules_stack.postfix.wait_delivered(message_id)
    assert str(delivered[STATUS]).startswith("ham score=0.00 ")
    assert "TRY_LUNCH_RULE=50.00(shadow)" in str(delivered["X-Postwarden-Reasons"])


def test_a_reload_with_a_broken_rules_file_keeps_the_old_rules(
        make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    rules = site_dir(tmp_path)
    stack = make_stack(rules={"local_directory": str(rules)})
    (rules / "10-site.yaml").write_text(SITE_RULES.replace("subject: {contains: widgets}",
                                                           "subjet: {contains: gadgets}"))
    answer = stack.daemon.control("reload")
    assert answer.returncode == 1
    assert f"{rules / '10-site.yaml'}:15: rule NO_WIDGETS: match.subjet: unknown matcher" in answer.stderr
    assert "last-reload-error" in stack.daemon.control("status").stdout
    _, widgets = make_message(subject="widgets")
    assert stack.send(widgets).code == 550  # the old rules still run
    (rules / "10-site.yaml").write_text(SITE_RULES.replace("widgets}", "gadgets}"))
    assert stack.daemon.control("reload").returncode == 0
    assert stack.send(widgets).accepted
    _, gadgets = make_message(subject="gadgets")
    assert stack.send(gadgets).code == 550


def test_an_atomic_change_to_a_watched_rules_file_reloads(
        make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    rules = site_dir(tmp_path)
    stack = make_stack(rules={"local_directory": str(rules), "watch": True, "watch_interval": 0.2})
    _, gadgets = make_message(subject="gadgets")
    assert stack.send(gadgets).accepted
    staged = rules / ".10-site.yaml.new"
    staged.write_text(SITE_RULES.replace("widgets}", "gadgets}"))
    os.replace(staged, rules / "10-site.yaml")  # how deploy tools and editors replace a file
    wait_until(lambda: "(generation 1)" in stack.daemon.stderr(), 10, "the rules-watch reload")
    assert stack.send(gadgets).code == 550
    # A broken replacement is refused and the running rules stay.
    staged.write_text("rules: [\n")
    os.replace(staged, rules / "10-site.yaml")
    wait_until(lambda: "reload failed" in stack.daemon.stderr(), 10, "the refused reload")
    assert stack.send(gadgets).code == 550


@pytest.fixture
def behind_a_dmarc_milter(postfix_available: None) -> Iterator[Stack]:
    """postwarden listed after a milter that writes a DMARC failure of a p=reject domain into
    Authentication-Results under the authserv-id postwarden trusts, as OpenDMARC would."""
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(Path(__file__).with_name("authres_milter.py")),
                                 f"inet:{port}@127.0.0.1",
                                 "mx.example.net; dmarc=fail (p=reject dis=none) header.from=example.test"])
    stack = Stack(trusted_authserv_ids=["mx.example.net"])
    stack.postfix.milters = f"inet:127.0.0.1:{port} {stack.postfix.milters}"
    # The README's recipe: the sender's own headers under our authserv-id are dropped on arrival;
    # what milters add is not subject to header_checks.
    checks = stack.root / "header_checks"
    checks.write_text("/^Authentication-Results:[[:space:]]*mx\\.example\\.net[[:space:];]/ IGNORE\n")
    stack.postfix.main_cf = {"header_checks": f"regexp:{checks}"}
    try:
        wait_until(lambda: _listening(port), 10, "the upstream milter's socket")
        yield stack.start()
    finally:
        stack.close()
        upstream.terminate()
        upstream.wait(10)
        check_daemon_log(stack.daemon_log_tail)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_an_earlier_milters_dmarc_failure_is_scored(behind_a_dmarc_milter: Stack) -> None:
    forged = [b"Authentication-Results: mx.forger.example; dmarc=pass",  # another id: not believed
              b"Authentication-Results: mx.example.net; spf=fail smtp.mailfrom=example.test"]  # ours: dropped
    # plain words: the test is about the DMARC result, not the text (the phishing head scores
    # "Please confirm the transfer." at about p = 0.5, as the BEC lure it reads like)
    message_id, raw = make_message("The minutes of the meeting are below.\n", subject="Minutes",
                                   extra_headers=forged)
    result = behind_a_dmarc_milter.send(raw)
    assert result.accepted, result
    delivered = behind_a_dmarc_milter.postfix.wait_delivered(message_id)
    reasons = str(delivered["X-Postwarden-Reasons"])
    assert "DMARC_FAIL_POLICY_REJECT=6.00" in reasons and "SPF_FAIL" not in reasons
    assert str(delivered[STATUS]).startswith("spam ")
    assert delivered.get_all("Authentication-Results") == [
        "mx.example.net; dmarc=fail (p=reject dis=none) header.from=example.test",
        "mx.forger.example; dmarc=pass"]


def test_a_header_from_an_untrusted_authserv_id_scores_nothing(rules_stack: Stack) -> None:
    forged = b"Authentication-Results: mx.example.net; dmarc=fail (p=reject) header.from=example.test"
    message_id, raw = make_message("Plain words.\n", subject="hello", extra_headers=[forged])
    result = rules_stack.send(raw)  # this daemon trusts no authserv-id at all
    assert result.accepted, result
    delivered = rules_stack.postfix.wait_delivered(message_id)
    assert "DMARC" not in str(delivered["X-Postwarden-Reasons"] or "")
