"""Parsing: what rules and models read of a message, and that nothing breaks the parser."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postwarden.message import parse_message
from tests.unit.foundation import malformed

HTML = b"""From: "PayPal Security" <service@paypa1-secure.example>
To: victim@example.net
Subject: =?utf-8?q?Your_account_is_=E2=9C=94_locked?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8

Please verify at http://paypa1-secure.example/login now.
--ALT
Content-Type: text/html; charset=utf-8

<html><head><style>p {color: red}</style></head><body>
<p>Dear customer,</p>
<p>Click <a href="http://198.51.100.7/verify?id=1">https://www.paypal.com/verify</a> today.</p>
<div style="display:none">meeting agenda quarterly report</div>
<p><font color="#ffffff" style="background-color:#ffffff">invisible padding</font></p>
<img src="x.gif" alt="logo">
</body></html>
--ALT--
"""


def test_html_rendering_links_and_hidden_text() -> None:
    msg = parse_message(HTML)
    assert msg.subject == "Your account is ✔ locked"
    assert msg.from_[0].name == "PayPal Security"
    assert msg.from_[0].domain == "paypa1-secure.example"
    assert "Dear customer," in msg.html_text
    assert "agenda" not in msg.html_text and "agenda" in msg.hidden_text
    assert "invisible padding" in msg.hidden_text
    assert "p {color" not in msg.text
    anchors = [(u.host, u.anchor_text) for u in msg.urls if u.source == "html"]
    assert ("198.51.100.7", "https://www.paypal.com/verify") in anchors
    assert any(u.host == "paypa1-secure.example" and u.source == "text" for u in msg.urls)
    assert not msg.defects


def test_attachments_are_sniffed_and_archives_listed() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("invoice.pdf.exe", b"MZ\x90\x00fake")
    msg = parse_message(malformed.attachment_message("invoice.zip", buffer.getvalue()))
    (attachment,) = msg.attachments
    assert attachment.filename == "invoice.zip"
    assert attachment.sniffed_type == "application/zip"
    assert attachment.archive_members == ["invoice.pdf.exe"]
    exe = parse_message(malformed.attachment_message("report.pdf", b"MZ\x90\x00" + b"\x00" * 64,
                                                     "application/pdf"))
    assert exe.attachments[0].declared_type == "application/pdf"
    assert exe.attachments[0].sniffed_type == "application/x-dosexec"


def test_calendar_invitation_fields() -> None:
    ics = (b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Claim your \\, prize\r\n"
           b"DESCRIPTION:Visit http://prize.example/ to cla\r\n im it\r\n"
           b"ORGANIZER;CN=Bob:mailto:bob@prize.example\r\nATTENDEE:mailto:eve@example.net\r\n"
           b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    raw = (malformed.HEAD + b"MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n"
           + ics)
    (event,) = parse_message(raw).calendar
    assert event.method == "REQUEST"
    assert event.summary == "Claim your , prize"
    assert event.description == "Visit http://prize.example/ to claim it"
    assert event.organizer == "bob@prize.example"
    assert event.attendees == ["eve@example.net"]


@pytest.mark.parametrize("name", sorted(malformed.ALL))
def test_malformed_messages_are_parsed_and_flagged(name: str) -> None:
    raw = malformed.ALL[name]()
    msg = parse_message(raw[: 2 * 1024 * 1024], truncated=len(raw) > 2 * 1024 * 1024)
    assert msg.size >= 0
    if name in ("truncated_mime", "invalid_base64", "empty", "binary_garbage", "body_50mb"):
        assert msg.defects, f"{name} should be reported as malformed"


def test_eight_bit_headers_are_readable() -> None:
    msg = parse_message(malformed.eight_bit_headers())
    assert msg.subject == "Grüße € café"
    assert msg.from_[0].address == "joerg@example.org"


def test_deep_nesting_keeps_what_it_can_read() -> None:
    msg = parse_message(malformed.nested_multipart(200))
    assert "nesting-too-deep" in msg.defects


def test_invalid_quoted_printable_keeps_the_text() -> None:
    msg = parse_message(malformed.invalid_quoted_printable())
    assert "bad" in msg.text and "cut" in msg.text


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parse_message(malformed.HEAD + b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + data)
    parse_message(data)


def test_ip_literal_links_in_plain_text() -> None:
    msg = parse_message(malformed.HEAD + b"\r\nsee http://[2001:db8::1]/login or http://198.51.100.7/x\r\n")
    assert [(u.host, u.path) for u in msg.urls] == [("2001:db8::1", "/login"), ("198.51.100.7", "/x")]
