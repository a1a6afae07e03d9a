"""Scores for every recipient of one message, with the reasons and a "did you mean".

Used alike by the milter check, `postwarden scan` and the evaluation, so what the evaluation
measures is what the milter does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from postwarden.misdirection import addresses as addr
from postwarden.misdirection.features import FEATURES, NAMES, contact_at_lookalike_domain, message_features
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
        # Unnamed (hashed mode found no look-alike spelling), the evidence still tells: a domain
        # new to the sender that looks like a known one is what ``contact_at_lookalike_domain`` stops.
        elsewhere = (addr.split(name)[1] != r.domain if name
                     else ev.near_domain is not None and ev.domain_sender is None)
        if elsewhere:
            return name or "", "looks like an address you write to often, at a lookalike domain"
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
    # The reasons: each row's signals that are set and moved its logit by 0.05 or more, largest
    # share first. Chosen by NumPy for all rows at once, so Python touches only the few kept
    # (a dozen of 46 a row), as Python floats.
    order = np.argsort(-contrib, axis=1)
    kept = np.take_along_axis((x != 0) & (np.abs(contrib) >= 0.05), order, axis=1)
    rows, ranks = np.nonzero(kept)  # row by row, in rank order
    chosen = order[rows, ranks]
    reasons: list[list[tuple[str, float]]] = [[] for _ in evidence.recipients]
    for row, i, share in zip(rows.tolist(), chosen.tolist(), contrib[rows, chosen].tolist(), strict=True):
        reasons[row].append((NAMES[i], share))
    scores = np.where(contact_at_lookalike_domain(x), 1.0, scores)  # stopped outright, as malformed ones
    out: list[RecipientScore] = []
    for ev, p, pairs in zip(evidence.recipients, scores.tolist(), reasons, strict=True):
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
