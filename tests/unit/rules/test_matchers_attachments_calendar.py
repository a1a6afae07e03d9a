"""Attachment and calendar matchers: a table of (condition, message, hit?)."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwarden.rules.matchers.attachments import double_extension, type_mismatch
from tests.unit.rules.helpers import MZ, hit_ids, make, one_rule, zipped

PDF = b"%PDF-1.4\n%..."
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20


def attach(name: str, ctype: str, data: bytes) -> bytes:
    return make(attachments=[(name, ctype, data)])


def invite(summary: str, description: str = "", organizer: str = "boss@example.org") -> bytes:
    ics = (
        f"BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nSUMMARY:{summary}\n"
        f"DESCRIPTION:{description}\nORGANIZER;CN=X:mailto:{organizer}\nLOCATION:Room 1\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    return make(calendar=ics)


CASES = [
    ("attachment_extension: {in: [exe, .scr]}", attach("setup.EXE", "application/octet-stream", MZ), True),
    ("attachment_extension: {in: [exe, .scr]}", attach("photo.scr", "image/jpeg", JPEG), True),
    ("attachment_extension: {in: [exe]}", attach("report.pdf", "application/pdf", PDF), False),
    ("attachment_extension: {list: lists/exe.txt}", attach("a.js", "text/plain", b"x"), True),
    ("attachment_double_extension: {in: [exe]}", attach("invoice.pdf.exe", "application/pdf", MZ), True),
    ("attachment_double_extension: {in: [exe]}", attach("invoice.pdf     .exe", "application/pdf", MZ), True),
    ("attachment_double_extension: {in: [exe]}", attach("setup.exe", "application/octet-stream", MZ), False),
    ("attachment_double_extension: {in: [exe]}", attach("a.tar.gz", "application/gzip", b"\x1f\x8b"), False),
    ("attachment_name: {regex: '^scan_\\d+\\.'}", attach("scan_0042.pdf", "application/pdf", PDF), True),
    ("attachment_name: {regex: '^scan_\\d+\\.'}", attach("report.pdf", "application/pdf", PDF), False),
    ("attachment_sniffed_type: {equals: application/x-dosexec}", attach("a.jpg", "image/jpeg", MZ), True),
    ("attachment_sniffed_type: {equals: application/x-dosexec}", attach("a.jpg", "image/jpeg", JPEG), False),
    ("attachment_declared_type: {regex: '^image/'}", attach("a.jpg", "image/jpeg", JPEG), True),
    ("attachment_type_mismatch: true", attach("a.jpg", "image/jpeg", MZ), True),
    ("attachment_type_mismatch: true", attach("a.pdf", "image/png", PDF), True),
    ("attachment_type_mismatch: true", attach("a.jpg", "image/jpeg", JPEG), False),
    ("attachment_type_mismatch: true", attach("a.pdf", "application/octet-stream", PDF), False),
    ("attachment_size: {min: 1000}", attach("big.bin", "application/octet-stream", b"x" * 2000), True),
    ("attachment_size: {min: 1000}", attach("small.bin", "application/octet-stream", b"x" * 20), False),
    ("attachment_count: {min: 1}", attach("a.pdf", "application/pdf", PDF), True),
    ("attachment_count: {min: 1}", make(), False),
    (
        "archive_member_extension: {in: [exe]}",
        attach("a.zip", "application/zip", zipped("docs/run.EXE")),
        True,
    ),
    (
        "archive_member_extension: {in: [exe]}",
        attach("a.zip", "application/zip", zipped("docs/a.pdf")),
        False,
    ),
    (
        "archive_member_name: {contains: docs/}",
        attach("a.zip", "application/zip", zipped("docs/a.pdf")),
        True,
    ),
    ("calendar_count: {min: 1}", invite("Team sync"), True),
    ("calendar_count: {min: 1}", make(), False),
    ("calendar_summary: {regex: 'bitcoin'}", invite("Your Bitcoin payout"), True),
    ("calendar_summary: {regex: 'bitcoin'}", invite("Team sync"), False),
    ("calendar_description: {contains: gift card}", invite("x", "Claim your GIFT CARD"), True),
    ("calendar_location: {equals: room 1}", invite("x"), True),
    ("calendar_organizer: {equals: boss@example.org}", invite("x"), True),
    ("calendar_organizer_domain: {list: lists/free.txt}", invite("x", organizer="a@gmail.com"), True),
    ("calendar_organizer_domain: {list: lists/free.txt}", invite("x"), False),
]


@pytest.mark.parametrize(
    ("match", "raw", "expected"), CASES, ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(CASES)]
)
def test_attachment_and_calendar_matchers(tmp_path: Path, match: str, raw: bytes, expected: bool) -> None:
    check = one_rule(tmp_path, match, lists={"lists/exe.txt": "exe\n.js\n", "lists/free.txt": "gmail.com\n"})
    assert (hit_ids(check, raw) == ["T"]) is expected


@pytest.mark.parametrize(
    ("declared", "sniffed", "expected"),
    [
        ("application/x-msdownload", "application/x-dosexec", False),
        ("application/octet-stream", "application/x-dosexec", True),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip", False),
        ("application/msword", "application/x-ole-storage", False),
        ("image/jpg", "image/jpeg", False),
        ("image/png", "text/html", True),
        ("audio/mpeg", "application/zip", False),  # not a type the sniffer knows: no judgement
        ("text/plain", "application/zip", True),
    ],
)
def test_type_mismatch_table(declared: str, sniffed: str, expected: bool) -> None:
    assert type_mismatch(declared, sniffed) is expected


def test_double_extension_needs_a_name_before_two_extensions() -> None:
    assert double_extension(".pdf.exe") is None and double_extension("a.pdf.exe") == "exe"
