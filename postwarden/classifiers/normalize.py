"""Text normalised against obfuscation before it becomes features.

Spammers write ``Vіаgrа`` with Cyrillic letters, ``fr\u200bee`` with zero-width spaces,
``v i a g r a`` letter-spaced, ``&#86;iagra`` as entities, and fullwidth ``ｆｒｅｅ``. Each
trick is undone here so the obfuscated word hashes to the same feature as the plain one,
and each trick that was found is reported: using one is itself a signal.

Steps, in order: HTML entities, Unicode NFKC, removal of zero-width and other invisible
format characters, homoglyph folding (Cyrillic, Greek and other look-alikes to Latin),
diacritics dropped, case folded, letter-spaced words joined, and every digit mapped to ``0``
so that numbers keep their shape but dates and years never become features.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

# Look-alikes of Latin letters, folded to the letter they imitate (lower case; text is
# case-folded afterwards anyway). Cyrillic, Greek, and a few Latin-extended and symbol forms.
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "һ": "h", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ӏ": "l", "ո": "n", "ս": "u", "ց": "g", "օ": "o",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
    "Т": "t", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j", "Ү": "y",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h",
    "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "€": "e", "¢": "c", "£": "l", "¥": "y", "µ": "u",
}
# Letters of the alphabets of Europe that NFKD does not take apart: folded like the look-alikes,
# but writing "Straße", "København" or "Łódź" is spelling, not a trick.
_LETTERS = {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ß": "ss", "æ": "ae", "œ": "oe",
            "Ł": "l", "Ø": "o", "Đ": "d", "Ħ": "h", "ẞ": "ss", "Æ": "ae", "Œ": "oe"}
_HOMOGLYPH_TABLE = str.maketrans({**_HOMOGLYPHS, **_LETTERS})
_HOMOGLYPH_CLASS = "[" + "".join(sorted(_HOMOGLYPHS)) + "]"
_HAS_HOMOGLYPH = re.compile(_HOMOGLYPH_CLASS)
# Zero-width and invisible characters that NFKC keeps: Unicode's format characters (Cf) plus
# the fillers and variation selectors that render as nothing.
_INVISIBLE = re.compile("[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u08e2\u115f\u1160\u17b4"
                        "\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
                        "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000110bd\U0001bca0-\U0001bca3"
                        "\U0001d173-\U0001d17a\U000e0001-\U000e007f]")
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Three or more single letters separated by one or two spacing characters: "v i a g r a",
# "f.r.e.e", "c-a-s-h". Runs of two ("a b") are left alone: they are ordinary text.
# The same separator throughout a run, so "c h e a p  p.i.l.l.s" is two words, not one.
_SPACED = re.compile(r"\b[^\W\d_]([ .\-_*·]{1,2})[^\W\d_](?:\1[^\W\d_])+\b")
_SPACING = re.compile(r"[ .\-_*·]")
# Cheap to scan for (it starts with a character class, which the regex engine skips ahead on):
# a separator, a letter, a separator, a letter, a separator. Only text with it is searched
# with _SPACED, whose leading word boundary makes the engine try every position.
_SPACED_HINT = re.compile(r"[ .\-_*·][^\W\d_][ .\-_*·]{1,2}[^\W\d_][ .\-_*·]")
_DIGIT = re.compile(r"\d")


@dataclass
class Normalised:
    text: str
    tricks: set[str] = field(default_factory=set)


def _fold_marks(text: str) -> str:
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_FULLWIDTH = re.compile("[\uff01-\uff5e]")


def _unicode_runs(text: str, tricks: set[str]) -> str:
    """NFKC, invisible characters, homoglyphs and diacritics, run by run of non-ASCII text.

    Mail is mostly ASCII; working on the non-ASCII runs only keeps a 100 KB message as cheap
    as its few odd characters. A run of look-alikes next to an ASCII letter ("Vіаgrа") is
    the homoglyph trick; a word wholly in another script is not.
    """

    def fix(match: re.Match[str]) -> str:
        run = match.group(0)
        if _FULLWIDTH.search(run):
            tricks.add("fullwidth")
        run = unicodedata.normalize("NFKC", run)
        cleaned = _INVISIBLE.sub("", run)
        if cleaned != run:
            tricks.add("invisible")
            run = cleaned
        if _HAS_HOMOGLYPH.search(run):
            start, end = match.start(), match.end()
            before = text[start - 1] if start else ""
            after = text[end] if end < len(text) else ""
            if (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha()):
                tricks.add("homoglyphs")
        run = run.translate(_HOMOGLYPH_TABLE)
        if not run.isascii():
            run = _fold_marks(run)
        return run

    return _NON_ASCII_RUN.sub(fix, text)


def normalise(text: str) -> Normalised:
    """The text as a reader would read it, in a canonical spelling; never raises."""
    tricks: set[str] = set()
    if "&" in text:
        unescaped = html.unescape(text)
        if unescaped != text and re.search(r"&#x?[0-9a-f]+;", text, re.I):
            tricks.add("entities")
        text = unescaped
    if not text.isascii():
        text = _unicode_runs(text, tricks)
    text = text.casefold()
    if (_SPACED_HINT.search(text) or _SPACED.match(text)) and _SPACED.search(text):
        text = _SPACED.sub(lambda m: _SPACING.sub("", m.group(0)), text)
        tricks.add("letter-spacing")
    text = _DIGIT.sub("0", text)
    return Normalised(text, tricks)
