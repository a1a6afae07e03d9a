"""Simulated sending mistakes, made from real recipients, for training and evaluation.

Four kinds, as the issue defines them: a *typo* of a real recipient (a keyboard neighbour, a
dropped or doubled letter, two letters swapped, a dropped dot); a *lookalike* of its domain (a
homoglyph, a changed top-level domain, a dropped, doubled or neighbouring letter); a *same_name*
contact, another address the sender already wrote to sharing the first name or the
autocomplete prefix; a *stranger*, an address other senders wrote to and this one never did.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from postwarden.misdirection import addresses as addr
from postwarden.misdirection.corpus import plausible

KINDS = ("typo", "lookalike", "same_name", "stranger")
_GLYPHS = (("m", "rn"), ("w", "vv"), ("d", "cl"), ("o", "0"), ("l", "1"), ("i", "l"), ("l", "i"),
           ("e", "3"), ("s", "5"))
_TLDS = {"com": ("co", "cm", "net", "om", "con"), "net": ("com", "ne", "nt"),
         "org": ("com", "og", "orh"), "edu": ("com", "ed")}


def _edit(rng: random.Random, text: str, op: str) -> str:
    if not text:
        return text
    i = rng.randrange(len(text))
    c = text[i]
    if op == "neighbour" and addr.KEYBOARD.get(c):
        return text[:i] + rng.choice(addr.KEYBOARD[c]) + text[i + 1:]
    if op == "delete" and len(text) > 2:
        return text[:i] + text[i + 1:]
    if op == "double":
        return text[:i] + c + text[i:]
    if op == "insert" and addr.KEYBOARD.get(c):
        return text[:i] + rng.choice(addr.KEYBOARD[c]) + text[i:]
    if op == "transpose" and len(text) > 2:
        i = min(i, len(text) - 2)
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text


def typo(rng: random.Random, address: str, forbidden: Callable[[str], bool]) -> str | None:
    local, domain = addr.split(address)
    for _ in range(30):
        op = rng.choice(("neighbour", "delete", "double", "insert", "transpose", "dot"))
        if op == "dot":
            dots = [i for i, c in enumerate(local) if c == "."]
            new = local[:dots[0]] + local[dots[0] + 1:] if dots else local
            if dots and len(dots) > 1:
                k = rng.choice(dots)
                new = local[:k] + local[k + 1:]
        else:
            new = _edit(rng, local, op)
        candidate = f"{new}@{domain}"
        if candidate != address and plausible(candidate) and not forbidden(candidate):
            return candidate
    return None


def lookalike(rng: random.Random, address: str, forbidden: Callable[[str], bool]) -> str | None:
    local, domain = addr.split(address)
    name, _, tld = domain.rpartition(".")
    if not name:
        return None
    for _ in range(30):
        op = rng.choice(("glyph", "tld", "delete", "double", "neighbour", "transpose"))
        new_name, new_tld = name, tld
        if op == "glyph":
            options = [(a, b) for a, b in _GLYPHS if a in name]
            if not options:
                continue
            a, b = rng.choice(options)
            spots = [i for i in range(len(name)) if name.startswith(a, i)]
            k = rng.choice(spots)
            new_name = name[:k] + b + name[k + len(a):]
        elif op == "tld":
            if tld not in _TLDS:
                continue
            new_tld = rng.choice(_TLDS[tld])
        else:
            new_name = _edit(rng, name, op)
        new_domain = f"{new_name}.{new_tld}"
        candidate = f"{local}@{new_domain}"
        if new_domain != domain and plausible(candidate) and not forbidden(candidate):
            return candidate
    return None


def same_name(rng: random.Random, address: str, contacts: Sequence[str],
              exclude: set[str]) -> str | None:
    """Another contact of the sender with the same first name, else the same first letters."""
    first, pre = addr.first_name(address), addr.prefix(address)
    for match in (lambda c: first and addr.first_name(c) == first,
                  lambda c: pre and addr.prefix(c) == pre):
        options = sorted(c for c in contacts if c != address and c not in exclude and match(c))
        if options:
            return rng.choice(options)
    return None


def stranger(rng: random.Random, pool: Sequence[str], never: Callable[[str], bool]) -> str | None:
    """A recipient occurrence drawn from other senders' mail (so frequent colleagues dominate)."""
    for _ in range(50 if pool else 0):
        candidate = pool[rng.randrange(len(pool))]
        if never(candidate):
            return candidate
    return None
