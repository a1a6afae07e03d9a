from __future__ import annotations

import zlib

import numpy as np

from postwarden.classifiers.features import Featuriser, FeaturiserSettings
from postwarden.classifiers.text_hygiene import clean_raw, stripped
from postwarden.message import parse_message

BASE = (b"From: Shop <shop@deals.example.biz>\nTo: you@example.org\nSubject: Cheap pills\n"
        b"Date: Thu, 22 Aug 2002 13:17:22 +0000\nMessage-ID: <1@deals.example.biz>\n"
        b"Content-Type: text/plain\n\nBuy cheap pills now at http://deals.example.biz/pills in 2002\n")


def _names(raw: bytes) -> set[str]:
    return set(Featuriser().transform(parse_message(raw)).names)


def test_verdicts_of_other_filters_and_list_headers_are_not_features() -> None:
    extra = (b"X-Spam-Status: No, score=-5\nX-Spam-Flag: NO\nList-Id: <deals.lists.example>\n"
             b"X-Mailman-Version: 2.0\nReceived: from mx.example by inbox.example\n"
             b"Delivered-To: you@example.org\nX-Folder: inbox\nAuthentication-Results: mx; spf=pass\n")
    with_headers = BASE.replace(b"Content-Type", extra + b"Content-Type")
    assert _names(with_headers) == _names(BASE)


def test_dates_and_years_are_not_features() -> None:
    other = BASE.replace(b"22 Aug 2002 13:17:22", b"05 Jan 2019 09:45:00").replace(b"in 2002", b"in 2019")
    assert _names(other) == _names(BASE)
    assert not any("2002" in n for n in _names(BASE))


def test_hidden_html_text_is_marked_not_mixed_in() -> None:
    raw = (b"From: a@example.biz\nSubject: offer\nContent-Type: text/html\n\n"
           b"<p>cheap pills</p><div style='display:none'>meeting agenda budget</div>")
    names = _names(raw)
    assert {"w:cheap", "w:pills", "h:meeting", "h:budget"} <= names
    assert "w:meeting" not in names and "m:hidden-text=4" in names


def test_obfuscated_spelling_gives_the_plain_features() -> None:
    plain = _names(BASE)
    spaced = _names(BASE.replace(b"Buy cheap pills", b"Buy c h e a p  p.i.l.l.s"))
    assert {"w:cheap", "w:pills"} <= spaced and "m:trick:letter-spacing" in spaced
    assert {"w:cheap", "w:pills"} <= plain


def test_url_attachment_and_structure_features() -> None:
    names = _names(BASE)
    assert {"uh:deals.example.biz", "ud:example.biz", "ut:biz", "up:pills"} <= names
    assert {"m:has:message-id", "m:from-tld:biz", "fn:shop"} <= names
    assert not any(n.startswith("m:ct:") for n in names)  # the MIME structure of 2002 (v5)


def test_attachments_count_only_for_what_makes_them_dangerous() -> None:
    """The ham of the corpora has no attachments: a token for a PDF would teach the model that
    an invoice with its PDF is phishing. Programs, disk images and web pages count anywhere."""
    import io
    import zipfile

    from tests.unit.foundation.malformed import attachment_message

    def attached(name: str, payload: bytes, ctype: str = "application/octet-stream") -> set[str]:
        return {n for n in _names(attachment_message(name, payload, ctype)) if n.startswith("a:")}

    assert attached("invoice.pdf", b"%PDF-1.4\n" + b"0" * 500, "application/pdf") == set()
    assert attached("q3.xlsx", b"PK\x03\x04" + b"0" * 500) == set()
    assert attached("setup.exe", b"MZ\x90\x00" + b"0" * 500) == {"a:program"}
    assert attached("report.pdf", b"MZ\x90\x00" + b"0" * 500, "application/pdf") == {"a:program"}
    assert attached("login.html", b"<html><form>password</form></html>") == {"a:page"}
    assert attached("disk.iso", b"0" * 500) == {"a:container"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("invoice.pdf.js", b"WScript.Shell")
    assert attached("invoice.zip", buffer.getvalue()) == {"a:archived-program"}


def test_indices_are_crc32_and_group_norms_bounded() -> None:
    featuriser = Featuriser(FeaturiserSettings(n_bits=20))
    vector = featuriser.transform(parse_message(BASE))
    i = vector.names.index("w:pills")
    assert vector.indices[i] == zlib.crc32(b"w:pills") & ((1 << 20) - 1)
    assert vector.indices.max() < 1 << 20
    # each group has (at most) unit norm times its scale: the whole vector is bounded
    assert float(np.sum(vector.values.astype(np.float64) ** 2)) <= len(featuriser.settings.group_scales)


def test_stripped_header_list_and_clean_raw() -> None:
    assert stripped("X-Spam-Status") and stripped("list-id") and stripped("Received")
    assert not stripped("Subject") and not stripped("X-Mailer")
    cleaned = clean_raw(b"From x Thu Aug 22 13:17:22 2002\nX-Spam-Level: ***\n  more\nSubject: hi\n\nbody\n")
    assert cleaned == b"Subject: hi\n\nbody\n"


def test_large_message_is_bounded() -> None:
    body = " ".join(f"word{i % 5000}" for i in range(20000)).encode()
    raw = b"From: a@example.org\nSubject: big\n\n" + body
    vector = Featuriser().transform(parse_message(raw))
    words = [n for n in vector.names if n.startswith("w:")]
    assert 0 < len(words) <= 2000  # only the first max_body_chars are read


def _murmur_pair(first: int, second: int, seed: int) -> int:
    """MurmurHash3's 64-bit finaliser in plain Python integers: the reference for bigrams."""
    mask = (1 << 64) - 1
    x = ((first << 32) | second) ^ seed
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & mask
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & mask
    x ^= x >> 33
    return x & 0xFFFFFFFF


def test_bigram_index_is_the_documented_mix_of_its_word_hashes() -> None:
    # Models trained on one machine are scored on another: the bigram index must not depend
    # on numpy's integer width or on the platform.
    vector = Featuriser(FeaturiserSettings(n_bits=20)).transform(parse_message(BASE))
    i = vector.names.index("b:cheap pills")
    expected = _murmur_pair(zlib.crc32(b"w:cheap"), zlib.crc32(b"w:pills"), zlib.crc32(b"b:"))
    assert vector.indices[i] == expected & ((1 << 20) - 1)
    assert "sb:cheap pills" in vector.names and "b:pills now" in vector.names
    # a name read on its own (as the reasons do) is the same string as in the full list
    assert [vector.name(k) for k in range(len(vector.names))] == vector.names


def test_the_form_of_the_era_is_not_a_feature() -> None:
    """The same words in US-ASCII from the sender's own server, or in quoted-printable UTF-8
    with a Message-ID under a provider's domain, as mail of today comes: the same features."""
    plain = BASE.replace(b"Content-Type: text/plain\n", b"MIME-Version: 1.0\nContent-Type: text/plain; "
                         b"charset=us-ascii\nContent-Transfer-Encoding: 7bit\n")
    today = (BASE.replace(b"<1@deals.example.biz>", b"<CAF3x9q@mail.gmail.com>")
             .replace(b"Content-Type: text/plain\n",
                      b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                      b"Content-Transfer-Encoding: quoted-printable\n"))
    assert _names(today) == _names(plain)
    assert not any(n.startswith(("m:charset", "m:cte", "m:msgid")) for n in _names(today))
