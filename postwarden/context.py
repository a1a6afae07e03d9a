"""What every check sees of one message: the transaction, the parsed message, the direction.

Checks (the GTUBE check now; rules, models and the recipient history later) receive a
ScanContext and return Hits; none of them parses MIME or looks at pymilter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from postwarden.message import ParsedMessage
from postwarden.transaction import Transaction
from postwarden.verdict import Action, Reason

INBOUND = "inbound"
OUTBOUND = "outbound"


@dataclass
class ScanContext:
    txn: Transaction
    message: ParsedMessage
    direction: str
    notes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """One finding: a score to add and/or a direct action, with the reply text it asks for."""

    id: str
    score: float = 0.0
    action: Action | None = None
    reply: str = ""
    detail: str = ""
    kind: str = "check"
    shadow: bool = False
    # What X-Postwarden-Status calls a message this hit's action decides ("spam" when unset):
    # a held outbound message that looks misdirected is not spam.
    label: str = ""

    def reason(self) -> Reason:
        return Reason(self.kind, self.id, self.score, self.detail, self.action, self.shadow)


class Check(Protocol):
    """A source of hits. Implementations must be thread-safe and keep no per-message state."""

    name: str

    def evaluate(self, ctx: ScanContext) -> Iterable[Hit]: ...
