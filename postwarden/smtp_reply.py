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


def with_queue_id(text: str, queue_id: str) -> str:
    """``text`` ending with the queue id, shortened first (at a word) if need be so the id
    always fits."""
    suffix = f" (queue id {clean_reply_text(queue_id)[:40]})"
    body, room = clean_reply_text(text), MAX_LINE - len(suffix)
    if len(body) > room:
        body = body[:room + 1].rsplit(" ", 1)[0] if " " in body[:room + 1] else body[:room]
    return body.rstrip() + suffix


def clean_header_value(text: str, limit: int = 900) -> str:
    """A header value on one line of ASCII, so no sender-controlled text can fold a header."""
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))
    return text[:limit]
