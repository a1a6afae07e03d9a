"""Scores for every recipient of one message, with the reasons and a "did you mean".

Used alike by the milter check, `postwarden scan` and the evaluation, so what the evaluation
measures is what the milter does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from postwarden.misdirection import addresses as addr
from postwarden.misdirection.features import FEATURES, NAMES, message_features
from postwarden.misdirection.history import MessageEvidence, RecipientEvidence, RecipientHistory
from postwarden.misdirection.model import Weights


@dataclass
class RecipientScore:
    address: str
    score: float
    flagged: bool
    contributions: list[tuple[str, float]] = field(default_factory=list)  # largest first
    resembles: str = ""  # the known contact or domain it looks like, if it can be named
    why: str = ""  # the strongest reason, in words

    def detail(self, threshold: float) -> str:
        parts = ", ".join(f"{name} {value:+.2f}" for name, value in self.contributions[:4])
        like = f"; resembles {self.resembles}" if self.resembles else ""
        return f"{self.address} p={self.score:.3f} (threshold {threshold:.3f}): {parts}{like}"


def _resembled(history: RecipientHistory, ev: RecipientEvidence) -> tuple[str, str]:
    """(what it resembles, why) for a flagged recipient, naming the contact where we can."""
    r = ev.rcpt
    if ev.near_contact is not None:
        name = history.name_of("a", ev.near_contact.token, r.address)
        if name and addr.split(name)[1] != r.domain:
            return name, "looks like an address you write to often, at a lookalike domain"
        return name or "", "is one typo away from an address you write to often"
    if ev.near_org_contact is not None:
        name = history.name_of("a", ev.near_org_contact.token, r.address)
        return name or "", "is one typo away from an address people here write to"
    if ev.near_domain is not None:
        domain = history.name_of("d", ev.near_domain.token, r.domain)
        return (f"{r.local}@{domain}" if domain else ""), "has a domain that looks like a known one"
    if ev.same_first is not None and ev.contact is not None:
        name = history.name_of("a", ev.same_first.token, r.address) if not history.tok.hashed else None
        first = addr.first_name(r.address, r.display)
        return name or "", f"is not the {first} you usually write to"
    if ev.contact is None:
        return "", "is not among your usual contacts"
    return "", "is rarely on mail like this"


def score_message(history: RecipientHistory, weights: Weights, evidence: MessageEvidence,
                  threshold: float, invalid: dict[str, str] | None = None) -> list[RecipientScore]:
    if not evidence.recipients:
        return []
    x = message_features(evidence)
    scores, contrib = weights.explain(x)  # every recipient's score and reasons in one descent
    # Python floats and lists: indexing NumPy arrays per item is slow
    order, all_values, all_shares = np.argsort(-contrib, axis=1).tolist(), x.tolist(), contrib.tolist()
    out: list[RecipientScore] = []
    for ev, p, ranked, values, shares in zip(evidence.recipients, scores.tolist(), order, all_values,
                                             all_shares, strict=True):
        pairs = [(NAMES[i], shares[i]) for i in ranked if values[i] != 0 and abs(shares[i]) >= 0.05]
        problem = (invalid or {}).get(ev.rcpt.address, "")
        if problem:
            out.append(RecipientScore(ev.rcpt.address, 1.0, True, [("undeliverable", 10.0)], "",
                                      f"cannot be delivered ({problem})"))
            continue
        flagged = p >= threshold
        rs = RecipientScore(ev.rcpt.address, p, flagged, pairs)
        if flagged:
            rs.resembles, rs.why = _resembled(history, ev)
            if not rs.why:
                top = pairs[0][0] if pairs else "never_mailed"
                rs.why = FEATURES.get(top, top)
        out.append(rs)
    return out
