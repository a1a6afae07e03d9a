"""What an SMTP client and a recipient see when postwarden decides inside a real Postfix.

Every test runs twice: with the milter on a unix socket and on a TCP socket. Mail comes from
127.0.0.1, which the test configuration does not count as internal, so it is inbound.
"""

from __future__ import annotations

import pytest
from postfix_harness import MAX_SCAN_BYTES, SAMPLES, STATUS, make_message, status_of
from postfix_instance import Stack, wait_until

from postwarden.gtube import GTUBE, gtube_string
from postwarden.verdict import Action

pytestmark = pytest.mark.postfix


def test_gtube_is_rejected_with_550_and_the_reason(stack: Stack) -> None:
    message_id, raw = make_message(f"Test:\n{GTUBE}\n", subject="GTUBE")
    result = stack.send(raw)
    assert result.code == 550
    assert result.text.startswith("5.7.1 ")
    assert "GTUBE" in result.text
    queue_id = stack.postfix.queue_id_of(message_id)
    assert result.text.endswith(f" (queue id {queue_id})")  # what the postmaster greps the log for
    assert stack.postfix.wait_log(f"{queue_id}: milter-reject: END-OF-MESSAGE")
    assert stack.postfix.find_delivered(message_id) is None


def test_ordinary_message_is_delivered_with_status_header(stack: Stack) -> None:
    message_id, raw = make_message("Hello Bob,\n\nthe minutes are below.\n", subject="Minutes")
    result = stack.send(raw)
    assert result.accepted, result
    delivered = stack.postfix.wait_delivered(message_id)
    assert status_of(delivered)[1] == "inbound"
    assert delivered["Subject"] == "Minutes"
    assert "the minutes are below." in delivered.get_content()


def test_forged_inbound_status_headers_are_removed(stack: Stack) -> None:
    forged = [b"X-Postwarden-Status: ham score=-100.00 direction=outbound",
              b"X-Postwarden-Reasons: ALLOWLISTED=-100.00",
              b"x-postwarden-status: ham forged in lower case",
              b"X-Postwarden-Quarantine: postwarden: nothing to see"]
    message_id, raw = make_message(extra_headers=forged)
    assert stack.send(raw).accepted
    delivered = stack.postfix.wait_delivered(message_id)
    assert status_of(delivered)[1] == "inbound"
    assert "ALLOWLISTED" not in str(delivered.get_all("X-Postwarden-Reasons"))
    assert delivered.get_all("X-Postwarden-Quarantine") is None


def test_quarantine_variant_lands_in_the_hold_queue_with_its_reason(stack: Stack) -> None:
    message_id, raw = make_message(gtube_string(Action.QUARANTINE) + "\n", subject="hold me")
    result = stack.send(raw)
    assert result.accepted, result  # the sender is told it was accepted
    assert result.queue_id
    held = [entry for entry in stack.postfix.queue() if entry["queue_id"] == result.queue_id]
    assert [entry["queue_name"] for entry in held] == ["hold"]
    headers = stack.postfix.postcat(result.queue_id)
    assert "X-Postwarden-Quarantine: postwarden: GTUBE_QUARANTINE" in headers
    assert f"{STATUS}: spam" in headers
    assert stack.postfix.wait_log(f"{result.queue_id}: milter-hold")
    assert stack.postfix.find_delivered(message_id) is None


def test_tempfail_variant_gets_451(stack: Stack) -> None:
    message_id, raw = make_message(gtube_string(Action.TEMPFAIL) + "\n")
    result = stack.send(raw)
    assert (result.code, result.stage) == (451, "data")
    assert result.text.startswith("4.7.1 ")
    assert stack.postfix.find_delivered(message_id) is None


def test_discard_variant_is_accepted_and_never_delivered(stack: Stack) -> None:
    discarded_id, raw = make_message(gtube_string(Action.DISCARD) + "\n")
    result = stack.send(raw)
    assert result.accepted, result
    assert stack.postfix.wait_log(f"{result.queue_id}: milter-discard")
    # A message sent afterwards is delivered: by then the discarded one would have been too.
    later_id, later = make_message()
    assert stack.send(later).accepted
    stack.postfix.wait_delivered(later_id)
    assert stack.postfix.find_delivered(discarded_id) is None
    assert result.queue_id not in {entry["queue_id"] for entry in stack.postfix.queue()}


def test_raw_8bit_header_bytes_are_decided_and_kept(stack: Stack) -> None:
    subject = "Grüße aus Köln".encode() + b" \xe9\xff"  # UTF-8, then bytes that are not UTF-8
    extra = [b"X-Postwarden-Status: ham forged \xe9t\xe9", b"X-Note: caf\xc3\xa9 \xa4"]
    message_id, raw = make_message("Bonjour \xe0 tous\n", subject=subject, extra_headers=extra)
    assert stack.send(raw).accepted
    delivered = stack.postfix.wait_delivered(message_id)
    assert status_of(delivered)[1] == "inbound"
    assert "forged" not in delivered.as_string()
    raw_delivered = next(body for _, body in stack.postfix.delivered() if message_id.encode() in body)
    assert b"Subject: " + subject + b"\n" in raw_delivered


def test_gtube_in_the_body_of_a_message_is_found_beyond_8bit_headers(stack: Stack) -> None:
    _, raw = make_message(f"{GTUBE}\n", subject=b"Gr\xfc\xdfe", extra_headers=[b"X-Raw: \xff\xfe"])
    assert stack.send(raw).code == 550


def test_message_larger_than_max_scan_bytes_is_still_decided(stack: Stack) -> None:
    filler = ("All work and no play makes Jack a dull boy. " * 23 + "\n") * (4 * MAX_SCAN_BYTES // 1000)
    assert len(filler) > 3 * MAX_SCAN_BYTES
    big_ham_id, big_ham = make_message("Start of a long report.\n" + filler, subject="Long report")
    assert stack.send(big_ham).accepted
    delivered = stack.postfix.wait_delivered(big_ham_id)
    assert status_of(delivered)[1] == "inbound"
    assert len(delivered.get_content()) >= len(filler)  # the body arrives whole, not cut at the cap
    _, big_spam = make_message(f"{GTUBE}\n{filler}", subject="Long GTUBE")
    assert stack.send(big_spam).code == 550


def test_malformed_sample_is_decided_and_says_so(stack: Stack) -> None:
    # Decided, not deferred or lost: tagged and delivered, or held for review, depending on
    # what the shipped model makes of its PDF attachment; either way the reasons say MALFORMED.
    raw = (SAMPLES / "malformed.eml").read_bytes().replace(b"\n", b"\r\n")
    result = stack.send(raw)
    assert result.accepted, result

    def settled() -> str | None:
        delivered = stack.postfix.find_delivered("<malformed-1@example.test>")
        if delivered is not None:
            assert status_of(delivered)[1] == "inbound"
            return str(delivered["X-Postwarden-Reasons"])
        if any(e["queue_id"] == result.queue_id and e["queue_name"] == "hold" for e in stack.postfix.queue()):
            return stack.postfix.postcat(result.queue_id)
        return None

    reasons = wait_until(settled, 15, "delivery or hold of the malformed sample")
    assert "MALFORMED" in reasons


def test_several_messages_in_one_smtp_session_are_decided_each(stack: Stack) -> None:
    import smtplib

    with smtplib.SMTP("127.0.0.1", stack.postfix.port, timeout=30) as client:
        first_id, first = make_message(subject="first")
        second_id, second = make_message(f"{GTUBE}\n", subject="second")
        third_id, third = make_message(subject="third")
        results = [stack.send(raw, client=client) for raw in (first, second, third)]
    assert [r.code for r in results] == [250, 550, 250]
    for message_id in (first_id, third_id):
        assert status_of(stack.postfix.wait_delivered(message_id))[1] == "inbound"
    assert stack.postfix.find_delivered(second_id) is None
