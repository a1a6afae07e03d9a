"""Obfuscated variants of a message's text, built the way spammers build them."""

from __future__ import annotations

import random
from email.message import EmailMessage

HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "y": "у"}
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
HAM_PADDING = [
    "meeting",
    "agenda",
    "quarterly",
    "report",
    "attached",
    "thanks",
    "regards",
    "schedule",
    "project",
    "review",
    "budget",
    "minutes",
    "tomorrow",
    "office",
    "team",
    "notes",
    "contract",
    "draft",
]


def homoglyphs(text: str, rng: random.Random) -> str:
    return "".join(HOMOGLYPHS[c] if c in HOMOGLYPHS and rng.random() < 0.5 else c for c in text)


def zero_width(text: str, rng: random.Random) -> str:
    out = []
    for c in text:
        out.append(c)
        if c.isalpha() and rng.random() < 0.3:
            out.append(rng.choice(ZERO_WIDTH))
    return "".join(out)


def letter_spacing(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    return " ".join(" ".join(w) if len(w) > 3 and w.isalpha() and rng.random() < 0.3 else w for w in words)


def rebuild(subject: str, text: str, hidden: str = "", sender: str = "offers@example.biz") -> bytes:
    """A plain HTML message with this subject and text, and optional hidden text."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "someone@example.org"
    msg["Subject"] = subject
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines() if line.strip())
    pad = f'<div style="display:none">{hidden}</div>' if hidden else ""
    msg.set_content(f"<html><body>{paragraphs}{pad}</body></html>", subtype="html")
    return msg.as_bytes()


def variants(subject: str, text: str, seed: int = 1) -> dict[str, bytes]:
    """The clean rebuilt message and each obfuscation of it."""
    rng = random.Random(seed)
    padding = " ".join(rng.choice(HAM_PADDING) for _ in range(400))
    return {
        "clean": rebuild(subject, text),
        "homoglyphs": rebuild(homoglyphs(subject, rng), homoglyphs(text, rng)),
        "zero-width": rebuild(zero_width(subject, rng), zero_width(text, rng)),
        "letter-spacing": rebuild(letter_spacing(subject, rng), letter_spacing(text, rng)),
        "hidden-ham-padding": rebuild(subject, text, hidden=padding),
    }
