"""Sent mail as the history sees it: who sent, to whom, when, about what.

Used by `postwarden history import` (any sent-mail folder) and by the evaluation (the Enron
sent-mail corpus). Addresses that the CMU Enron export made up from Exchange display names
(a local part that starts or ends with a dot or has two in a row, such as ``.ward@enron.com``
or ``s..ward@enron.com``: 3 % of its recipients) can stand for several people and could never
have been delivered, so they are dropped rather than guessed; ``Bcc`` is ignored because that
export copies ``Cc`` into it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from postwarden.message import parse_message
from postwarden.misdirection.addresses import normalise
from postwarden.misdirection.history import Recipient
from postwarden.sources import StoredMessage

_VALID = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-][a-z0-9!#$%&'*+/=?^_`{|}~.-]*@[a-z0-9-]+(\.[a-z0-9-]+)+$")


@dataclass(frozen=True)
class SentMessage:
    mailbox: str  # where it was found (for Enron: the user)
    sender: str
    at: float
    recipients: tuple[Recipient, ...]
    subject: str
    text: str


def plausible(address: str) -> bool:
    """Shaped like an address a mail client would send to (its dots may still be misplaced)."""
    return bool(_VALID.match(address))


def usable(address: str) -> bool:
    """Plausible, with the dots of a deliverable local part: what a sent folder teaches."""
    local = address.rpartition("@")[0]
    return plausible(address) and not (local.startswith(".") or local.endswith(".") or ".." in local)


def mailbox_of(source: str) -> str:
    """``.../enron-sent/arnold-j.sent.mbox#12`` -> ``arnold-j``; other sources: the path."""
    path = source.split("#", 1)[0].rsplit(":", 1)[-1]
    name = path.rsplit("/", 1)[-1]
    return name.split(".", 1)[0] if name.endswith(".mbox") else path


def sent_message(stored: StoredMessage, sender: str | None = None) -> SentMessage | None:
    """One stored message as a SentMessage, or None without a date or usable recipient."""
    msg = parse_message(stored.raw)
    values = {n.lower(): v for n, v in msg.headers}
    try:
        at = parsedate_to_datetime(values.get("date", "")).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    from_ = sender or (normalise(msg.from_[0].address) if msg.from_ else "")
    seen: dict[str, Recipient] = {}
    for a in [*msg.to, *msg.cc]:
        address = normalise(a.address)
        if usable(address) and address != from_ and address not in seen:
            seen[address] = Recipient(address, a.name or "")
    if not seen or not from_:
        return None
    return SentMessage(mailbox_of(stored.source), from_, at, tuple(seen.values()), msg.subject, msg.text)


def by_mailbox(messages: Iterable[StoredMessage]) -> dict[str, list[SentMessage]]:
    """Messages per mailbox in time order, each mailbox's owner (its most common From) as sender."""
    raw: dict[str, list[StoredMessage]] = {}
    for stored in messages:
        raw.setdefault(mailbox_of(stored.source), []).append(stored)
    out: dict[str, list[SentMessage]] = {}
    for box, items in raw.items():
        parsed = [m for m in (sent_message(s) for s in items) if m is not None]
        owner = Counter(m.sender for m in parsed).most_common(1)
        if not owner:
            continue
        sender = owner[0][0]
        kept = []
        for m in parsed:
            rcpts = tuple(r for r in m.recipients if r.address != sender)
            if rcpts:
                kept.append(SentMessage(m.mailbox, sender, m.at, rcpts, m.subject, m.text))
        out[box] = sorted(kept, key=lambda m: m.at)
    return out

