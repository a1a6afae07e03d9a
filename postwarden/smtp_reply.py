"""SMTP reply text that libmilter will actually send.

libmilter silently drops a reply whose text has a lone ``%`` and Postfix rejects non-ASCII or
multi-line junk, so dynamic texts (rule replies, recipient names) pass through here first.
"""

from __future__ import annotations

MAX_LINE = 400


def clean_reply_text(text: str) -> str:
    """One printable ASCII line without ``%``, short enough for any client."""
    text = text.replace("%", " percent")
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))
    return text[:MAX_LINE] or "Message refused"


def clean_header_value(text: str, limit: int = 900) -> str:
    """A header value on one line of ASCII, so no sender-controlled text can fold a header."""
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))
    return text[:limit]
