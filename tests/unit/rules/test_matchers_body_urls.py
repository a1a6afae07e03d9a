"""Body and URL matchers: a table of (condition, message, hit?)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.rules.helpers import evaluate, hit_ids, make, one_rule

FULLWIDTH = make(text="Cheap \uff36\uff49\uff41\u200b\uff47\uff52\uff41 today")  # Ｖｉａ​ｇｒａ
HOMOGLYPHS = make(text="Cheap V\u0456\u0430gr\u0430 and v i a g r a, order 2024")  # Cyrillic і, а
HIDDEN = make(text=None, html='<p>Hi</p><div style="display:none">hashbuster words here</div>')


def html(body: str) -> bytes:
    return make(text="see the html part", html=body)


CASES = [
    ("body: {contains: viagra}", FULLWIDTH, True),  # NFKC and zero-width removal
    ("body: {regex: 'cheap viagra and viagra'}", HOMOGLYPHS, True),  # look-alikes, letter spacing
    ("body: {contains: 'order 2024'}", HOMOGLYPHS, False),  # the models read digits as 0
    ("body: {contains: 'order 0000'}", HOMOGLYPHS, True),
    ("body_text: {contains: 'order 2024'}", HOMOGLYPHS, True),
    ("body_text: {contains: viagra}", HOMOGLYPHS, False),  # as written: Cyrillic letters stay
    ("body_text: {contains: viagra}", FULLWIDTH, True),  # NFKC and zero-width removal
    ("body_text: {contains: viagra, case_sensitive: true}", FULLWIDTH, False),
    ("body_text: {contains: Viagra, case_sensitive: true}", FULLWIDTH, True),
    ("body: {regex: 'wire\\s+transfer'}", make(text="please wire\n\n  transfer it"), True),
    ("body: {regex: 'wire\\s+transfer'}", make(text="wiretransfer"), False),
    (
        "raw_body: {contains: 'Content-Transfer-Encoding: base64'}",
        make(attachments=[("a.bin", "application/octet-stream", b"x" * 10)]),
        True,
    ),
    ("raw_body: {contains: 'attachment; filename'}", make(), False),
    ("hidden_text: {contains: hashbuster}", HIDDEN, True),
    ("hidden_text: {contains: hashbuster}", html("<p>hashbuster visible</p>"), False),
    ("size: {min: 5000}", make(text="x" * 6000), True),
    ("size: {min: 5000}", make(), False),
    ("size: {max: 5000}", make(), True),
    ("url: {regex: '/wp-admin/.*\\.php'}", make(text="go http://site.example/wp-admin/x.php now"), True),
    ("url: {regex: '/wp-admin/.*\\.php'}", make(text="go http://site.example/blog now"), False),
    ("url_host: {list: lists/short.txt}", make(text="http://bit.ly/abc"), True),
    ("url_host: {list: lists/short.txt}", make(text="http://notbit.ly/abc"), False),
    ("url_host: {in: [example.com]}", make(text="https://login.example.com/x"), True),
    ("url_domain: {equals: example.co.uk}", make(text="https://a.b.example.co.uk/"), True),
    ("url_domain: {equals: example.co.uk}", make(text="https://example.com/"), False),
    ("url_count: {min: 3}", make(text="http://a.example http://b.example http://c.example"), True),
    ("url_count: {min: 3}", make(text="http://a.example http://a.example/2 http://b.example"), False),
    ("url_ip_literal: true", make(text="http://192.0.2.7/login"), True),
    ("url_ip_literal: true", html('<a href="http://3232235777/">bank</a>'), True),  # one number
    ("url_ip_literal: true", html('<a href="http://[2001:db8::1]/x">x</a>'), True),
    ("url_ip_literal: true", make(text="http://www.example.org/2024"), False),
    ("url_punycode: true", make(text="http://xn--pypal-4ve.com/"), True),
    ("url_punycode: true", html('<a href="http://p\u0430ypal.com/">pay</a>'), True),  # Cyrillic а
    ("url_punycode: true", make(text="http://paypal.com/"), False),
    ("url_anchor_mismatch: true", html('<a href="http://evil.example/">www.bank.example</a>'), True),
    (
        "url_anchor_mismatch: true",
        html('<a href="http://evil.example/">https://bank.example/login</a>'),
        True,
    ),
    ("url_anchor_mismatch: true", html('<a href="https://www.bank.example/a">bank.example</a>'), False),
    ("url_anchor_mismatch: true", html('<a href="https://login.bank.co.uk/">www.bank.co.uk</a>'), False),
    ("url_anchor_mismatch: true", html('<a href="http://files.example/">invoice.pdf</a>'), False),
    ("url_anchor_mismatch: true", html('<a href="http://evil.example/">Click here</a>'), False),
]


@pytest.mark.parametrize(
    ("match", "raw", "expected"), CASES, ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(CASES)]
)
def test_body_and_url_matchers(tmp_path: Path, match: str, raw: bytes, expected: bool) -> None:
    check = one_rule(tmp_path, match, lists={"lists/short.txt": "bit.ly\n*.tinyurl.com\n"})
    assert (hit_ids(check, raw) == ["T"]) is expected


def test_a_hit_shows_the_matched_text_not_the_start_of_the_body(tmp_path: Path) -> None:
    check = one_rule(tmp_path, "body_text: {regex: 'wire\\s+\\w+'}")
    raw = make(text="Dear customer, please read carefully. Kindly wire transfer the amount today.")
    (hit,) = evaluate(check, raw)
    assert hit.detail == "body_text=wire transfer"
