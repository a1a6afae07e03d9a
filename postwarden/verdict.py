"""The decision about one message: a plain value the milter applies and `scan` prints."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Action(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    TEMPFAIL = "tempfail"
    QUARANTINE = "quarantine"
    DISCARD = "discard"


# When several direct actions apply, the strongest wins. An explicit accept (allowlist) is
# handled before this order is consulted.
ACTION_STRENGTH = {
    Action.ACCEPT: 0,
    Action.TEMPFAIL: 1,
    Action.QUARANTINE: 2,
    Action.DISCARD: 3,
    Action.REJECT: 4,
}


@dataclass(frozen=True)
class Reason:
    """Why a score or action came about: a rule id, a model feature, a parser note."""

    kind: str
    id: str
    score: float = 0.0
    detail: str = ""
    action: Action | None = None
    shadow: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "score": round(self.score, 3)}
        if self.detail:
            out["detail"] = self.detail
        if self.action:
            out["action"] = self.action.value
        if self.shadow:
            out["shadow"] = True
        return out


@dataclass
class Verdict:
    action: Action
    score: float
    direction: str
    smtp_code: str = ""
    smtp_xcode: str = ""
    smtp_text: str = ""
    label: str = "ham"
    headers: list[tuple[str, str]] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    quarantine_reason: str = ""
    # What the text models said, hit or not (version, p(spam), p(phish), "language": "other"
    # when the English check raised their thresholds): `scan --json` shows it, so an operator
    # can see how close a message came without a reason to read.
    model: dict[str, Any] = field(default_factory=dict)
    # Every Authentication-Results result of the message, trusted or not (`scan --json` only):
    # when an auth_result rule stays quiet, this shows which authserv-id the header really has.
    authentication: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "action": self.action.value,
            "label": self.label,
            "score": round(self.score, 3),
            "smtp_code": self.smtp_code or None,
            "smtp_xcode": self.smtp_xcode or None,
            "smtp_text": self.smtp_text or None,
            "headers": [[name, value] for name, value in self.headers],
            "reasons": [r.as_dict() for r in self.reasons],
            **({"model": self.model} if self.model else {}),
            **({"authentication": self.authentication} if self.authentication else {}),
        }
