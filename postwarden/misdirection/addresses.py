"""Address arithmetic for the recipient history: names, prefixes, near-misses and lookalikes.

The history has to recognise "almost a contact" without comparing a recipient with every
contact (too slow) and without the contacts in plain text (hashed mode). Both come from the
symmetric-delete trick: a contact is indexed under its local part with each single character
deleted (and unchanged); a recipient whose own delete-variants meet one of those keys is at most
one insertion, deletion, substitution or transposition away (and a few two-edit cases). The same
holds for domains. Homoglyph lookalikes (``rn`` for ``m``, ``0`` for ``o``) meet through a shared
*skeleton*: the address with every confusable folded to one representative. A domain at
another public suffix (``acme.net`` or ``acme.co.uk`` for ``acme.com``), which is no single edit,
meets through its *stem*, the domain without its suffix.
"""

from __future__ import annotations

import re
import unicodedata

from postwarden.rules.domains import MULTI_LABEL_SUFFIXES

# Folds for the skeleton: multi-letter confusables first, then single characters.
_MULTI = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("nn", "m"))
_SINGLE = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "5": "s", "3": "e", "@": "a",
                         "$": "s", "_": "-"})
# Latin-looking Unicode letters that NFKC leaves alone.
_UNICODE = str.maketrans({"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
                          "і": "l", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ı": "l"})

QWERTY_ROWS = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    pos = {c: (r, i) for r, row in enumerate(QWERTY_ROWS) for i, c in enumerate(row)}
    out: dict[str, str] = {}
    for c, (r, i) in pos.items():
        near = []
        for d, (rr, ii) in pos.items():
            if d != c and abs(rr - r) <= 1 and abs(ii - i + (0.5 * (rr - r))) <= 1.0:
                near.append(d)
        out[c] = "".join(sorted(near))
    return out


KEYBOARD = _neighbours()

FREEMAIL = frozenset("""
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr ymail.com hotmail.com hotmail.co.uk
hotmail.fr outlook.com live.com msn.com aol.com icloud.com me.com mac.com gmx.de gmx.net gmx.com
web.de mail.com mail.ru yandex.ru yandex.com protonmail.com proton.me zoho.com fastmail.com
earthlink.net comcast.net att.net sbcglobal.net verizon.net juno.com netzero.net excite.com
qq.com 163.com 126.com naver.com free.fr orange.fr wanadoo.fr libero.it t-online.de
""".split())  # noqa: SIM905 - a word list reads better as text

_NAME_SPLIT = re.compile(r"[._\-+]+")
_LETTERS = re.compile(r"[a-z]+")


def normalise(address: str) -> str:
    """Lower-case, NFKC, no surrounding brackets or spaces: the form every key is built from."""
    return unicodedata.normalize("NFKC", address.strip().strip("<>")).lower()


def split(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return (local, domain) if local else (address, "")


def first_name(address: str, display: str = "") -> str:
    """The given name a person would recognise: from the display name, else the local part."""
    display = display.strip().strip("'\"").lower()
    if display:
        if "," in display:  # "Smith, Dan"
            display = display.split(",", 1)[1]
        words = _LETTERS.findall(display)
        if words and len(words[0]) >= 2:
            return words[0]
    local = split(address)[0]
    parts = [p for p in _NAME_SPLIT.split(local) if p]
    if len(parts) >= 2 and parts[0].isalpha() and len(parts[0]) >= 2:
        return parts[0]
    return ""


def prefix(address: str, length: int = 3) -> str:
    """What an address-book autocomplete matches on: the first letters of the local part."""
    letters = re.sub(r"[^a-z0-9]", "", split(address)[0])
    return letters[:length] if len(letters) >= length else ""


def deletes(text: str, limit: int = 64) -> set[str]:
    """The text and every variant with one character deleted (capped for absurd lengths)."""
    text = text[:limit]
    return {text, *(text[:i] + text[i + 1:] for i in range(len(text)))}


def skeleton(text: str) -> str:
    """Fold homoglyphs so ``acrne.com``, ``acme.corn`` and ``acme.com`` look alike."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_UNICODE)
    for many, one in _MULTI:
        text = text.replace(many, one)
    return text.translate(_SINGLE).replace(".", "")


# The suffixes hashed mode tries when it names the domain a stem matched ("did you mean").
COMMON_SUFFIXES = ("com", "net", "org", "edu", "gov", "mil", "int", "co", "io", "biz", "info", "us",
                   "uk", "co.uk", "org.uk", "ca", "de", "fr", "nl", "be", "ch", "at", "it", "es", "se",
                   "no", "dk", "fi", "ie", "pl", "jp", "co.jp", "cn", "in", "co.in", "au", "com.au",
                   "nz", "co.nz", "br", "com.br", "mx", "com.mx", "ru", "za", "co.za", "sg", "hk")


def suffix(domain: str) -> str:
    """The public suffix: ``com`` of ``acme.com``, ``co.uk`` of ``acme.co.uk`` (see rules.domains)."""
    labels = domain.split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-2:])
    return labels[-1] if len(labels) >= 2 else ""


def stem(domain: str) -> str:
    """The domain without its public suffix (``mail.acme`` of ``mail.acme.com``), or '' where a
    different suffix is no lookalike: a freemail provider runs the same name under many (yahoo.fr,
    yahoo.com), and a stem of one or two letters meets unrelated domains."""
    end = suffix(domain)
    if not end or is_freemail(domain):
        return ""
    base = domain[:-len(end) - 1]
    return base if len(base) >= 3 else ""


def suffix_swaps(domain: str) -> set[str]:
    """``domain``'s stem at each common suffix: the candidates hashed mode names a stem match by."""
    base = stem(domain)
    return {f"{base}.{end}" for end in COMMON_SUFFIXES} - {domain} if base else set()


def is_freemail(domain: str) -> bool:
    return domain in FREEMAIL


def damerau(a: str, b: str, cap: int = 3) -> int:
    """Optimal-string-alignment distance, stopping early at ``cap``."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) >= cap:
            return cap
        prev2, prev = prev, cur
    return min(prev[-1], cap)


def single_edits(text: str, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789.-_") -> set[str]:
    """Every string one edit away: what hashed mode tries to name a resembled contact."""
    out = set()
    for i in range(len(text) + 1):
        for c in alphabet:
            out.add(text[:i] + c + text[i:])
        if i < len(text):
            out.add(text[:i] + text[i + 1:])
            for c in alphabet:
                out.add(text[:i] + c + text[i + 1:])
        if i < len(text) - 1:
            out.add(text[:i] + text[i + 1] + text[i] + text[i + 2:])
    out.discard(text)
    return out


def homoglyph_variants(text: str) -> set[str]:
    """Undo one homoglyph substitution (``rn`` to ``m``, ``0`` to ``o``...), for naming in hashed mode."""
    pairs = [("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("l", "i"), ("i", "l"),
             ("5", "s"), ("3", "e"), ("m", "rn")]
    out = set()
    for bad, good in pairs:
        start = text.find(bad)
        while start >= 0:
            out.add(text[:start] + good + text[start + len(bad):])
            start = text.find(bad, start + 1)
    out.discard(text)
    return out
