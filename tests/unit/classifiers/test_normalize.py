from __future__ import annotations

import pytest

from postwarden.classifiers.normalize import normalise


@pytest.mark.parametrize(("text", "expected", "trick"), [
    ("Vіаgrа for you", "viagra for you", "homoglyphs"),
    ("fr\u200bee mo\u200cney", "free money", "invisible"),
    ("buy v i a g r a now", "buy viagra now", "letter-spacing"),
    ("c-a-s-h f.a.s.t", "cash fast", "letter-spacing"),
    ("&#86;iagra", "viagra", "entities"),
    ("ｆｒｅｅ ｃａｓｈ", "free cash", "fullwidth"),
    ("Caf\u00e9 d\u00e9j\u00e0 vu", "cafe deja vu", None),
    ("FREE Money", "free money", None),
])
def test_obfuscations_are_undone_and_reported(text: str, expected: str, trick: str | None) -> None:
    result = normalise(text)
    assert result.text == expected
    if trick:
        assert trick in result.tricks
    else:
        assert not result.tricks


def test_dates_and_years_lose_their_values() -> None:
    assert normalise("Sent on 2002-08-22 at 13:17").text == normalise("Sent on 2019-01-05 at 09:45").text


def test_ordinary_text_is_left_alone() -> None:
    # Two single letters are ordinary text ("a b"), and a Russian word is not a homoglyph trick.
    assert normalise("plan a b test").text == "plan a b test"
    assert "homoglyphs" not in normalise("Привет").tricks
    # Letters of European alphabets are folded but are spelling, not a trick.
    for word, folded in (("Straße", "strasse"), ("København", "kobenhavn"), ("Łódź", "lodz")):
        assert normalise(word).text == folded and not normalise(word).tricks, word
