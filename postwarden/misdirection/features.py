"""Per-recipient signals, as numbers a linear model weighs and as words a person reads.

Each feature is one named signal; the model's weight times its value is that signal's share of
the recipient's score, and the largest shares become the reasons in the verdict and the reply.
"""

from __future__ import annotations

import math
import re

import numpy as np

from postwarden.misdirection import addresses as addr
from postwarden.misdirection import textvec
from postwarden.misdirection.history import DAY, MessageEvidence, RecipientEvidence

# name -> what it means when it pushes a recipient towards "misdirected"
FEATURES: dict[str, str] = {
    "never_mailed": "never mailed by this sender",
    "contact_weight": "how often (decayed) this sender writes to it",
    "contact_count": "how many messages this sender sent it",
    "contact_age": "how long since this sender last wrote to it",
    "domain_new_to_sender": "its domain was never mailed by this sender",
    "domain_new_to_org": "its domain was never mailed by anyone here",
    "domain_weight": "how often this sender writes to its domain",
    "near_contact": "one typo away from a contact",
    "near_domain": "its domain looks like a known domain",
    "same_first_name": "same first name as a more frequent contact",
    "same_prefix": "same first letters as a more frequent contact",
    "freemail_among_corporate": "personal freemail address among corporate recipients",
    "multiple_recipients": "the message has several recipients",
    "tie_max": "strongest tie to a co-recipient",
    "tie_share": "share of co-recipients it was mailed together with",
    "known_but_untied": "a contact never mailed together with these co-recipients",
    "content": "what the message is about matches mail to it",
    "content_gap": "the message matches other recipients better",
    "weight_gap": "the other recipients are much more frequent contacts",
    "unknown_x_history": "never mailed by a sender with a long history",
    "sender_history": "how much history the sender has",
    "internal": "an address in a local domain",
    "org_known": "someone here writes to it",
    "org_content": "the message matches what others here write to it",
    "last_name_in_text": "its last name appears in the message",
    "first_name_in_text": "its first name appears in the message",
    "near_org_contact": "one typo away from an address someone here writes to",
    "address_in_text": "the address itself appears in the message",
    "near_address_in_text": "the message quotes an address one typo or lookalike away",
    "name_typo_in_text": "the message spells its name differently",
    "resembled_name_in_text": "the message names the contact it resembles, not it",
    "content_vs_resembled": "the message matches the contact it resembles better",
    "on_thread": "it was on earlier mail of this thread",
    "off_thread": "a thread it was never on",
    "org_tie_sender": "it was on mail here together with this sender",
    "org_tie_max": "strongest tie here to a co-recipient",
    "org_tie_share": "share of co-recipients it was on mail here with",
    "org_untied": "new to this sender and never on mail here with these co-recipients",
    "name_unseen": "its name is spelt like no address known here",
    "sender_novelty": "how often this sender writes to someone new",
    "domain_in_text": "the message quotes an address at its domain",
    "near_domain_in_text": "the message quotes an address at a lookalike of its domain",
    "greeted": "the message opens by greeting it",
    "greets_absent": "the message greets a contact who is not among its recipients",
    "org_age": "how long since anyone here last wrote to it",
    "others_new": "share of the other recipients this sender never wrote to",
}
NAMES = list(FEATURES)
INDEX = {name: i for i, name in enumerate(NAMES)}


def _lw(x: float) -> float:
    return math.log1p(max(x, 0.0))


def _name_parts(address: str) -> tuple[str, str]:
    parts = [p for p in addr._NAME_SPLIT.split(addr.split(address)[0]) if p.isalpha() and len(p) >= 3]
    if not parts:
        return "", ""
    return parts[0], parts[-1] if len(parts) >= 2 else ""


def recipient_features(evidence: MessageEvidence, index: int,
                       cosines: list[float | None] | None = None,
                       contact_weights: list[float] | None = None) -> np.ndarray:
    """The features of one recipient; ``cosines`` (message vs each recipient's centroid, None
    without one) and ``contact_weights`` (each recipient's decayed contact weight) save
    recomputing them per recipient."""
    if cosines is None:
        cosines = _cosines(evidence)
    if contact_weights is None:
        contact_weights = _contact_weights(evidence)
    ev: RecipientEvidence = evidence.recipients[index]
    now, h = evidence.now, evidence.half_life
    others = [o for k, o in enumerate(evidence.recipients) if k != index]
    x = np.zeros(len(NAMES), dtype=np.float64)
    known = ev.contact is not None
    weight = ev.contact.weight_at(now, h) if ev.contact else 0.0
    hist = _lw(evidence.sender_messages) / 8.0
    x[INDEX["never_mailed"]] = 0.0 if known else 1.0
    x[INDEX["contact_weight"]] = _lw(weight)
    x[INDEX["contact_count"]] = _lw(ev.contact.count) if ev.contact else 0.0
    if ev.contact:
        x[INDEX["contact_age"]] = _lw((now - ev.contact.last) / DAY) / 6.0
    x[INDEX["domain_new_to_sender"]] = 1.0 if ev.domain_sender is None and not ev.internal else 0.0
    x[INDEX["domain_new_to_org"]] = 1.0 if ev.domain_org is None and not ev.internal else 0.0
    x[INDEX["domain_weight"]] = _lw(ev.domain_sender.weight_at(now, h)) if ev.domain_sender else 0.0
    if not known and ev.near_contact:
        x[INDEX["near_contact"]] = _lw(1.0 + ev.near_contact.weight_at(now, h))
    if ev.near_domain:
        x[INDEX["near_domain"]] = _lw(1.0 + ev.near_domain.weight_at(now, h))
    for name, ref in (("same_first_name", ev.same_first), ("same_prefix", ev.same_prefix)):
        if ref is not None:
            x[INDEX[name]] = max(0.0, _lw(ref.weight_at(now, h)) - _lw(weight))
    if addr.is_freemail(ev.rcpt.domain) and any(not addr.is_freemail(o.rcpt.domain) for o in others):
        x[INDEX["freemail_among_corporate"]] = 1.0
    if others:
        x[INDEX["multiple_recipients"]] = 1.0
        if ev.ties:
            x[INDEX["tie_max"]] = _lw(max(ev.ties))
            x[INDEX["tie_share"]] = sum(1 for t in ev.ties if t > 0) / len(ev.ties)
            if known and not any(t > 0 for t in ev.ties):
                x[INDEX["known_but_untied"]] = 1.0
        other_w = max(w for k, w in enumerate(contact_weights) if k != index)
        x[INDEX["others_new"]] = sum(1 for o in others if o.contact is None) / len(others)
        x[INDEX["weight_gap"]] = max(0.0, _lw(other_w) - _lw(weight))
    own = cosines[index] or 0.0
    x[INDEX["content"]] = own
    other_c = [c for k, c in enumerate(cosines) if k != index and c is not None]
    if other_c:
        x[INDEX["content_gap"]] = max(0.0, max(other_c) - own)
    x[INDEX["unknown_x_history"]] = 0.0 if known else hist
    x[INDEX["sender_history"]] = hist
    x[INDEX["internal"]] = 1.0 if ev.internal else 0.0
    if not known:
        x[INDEX["org_known"]] = _lw(ev.org_contact.weight_at(now, h)) if ev.org_contact else 0.0
        if ev.org_contact:
            x[INDEX["org_age"]] = _lw((now - ev.org_contact.last) / DAY) / 6.0
        if ev.org_vector is not None:
            x[INDEX["org_content"]] = textvec.cosine(evidence.vector, ev.org_vector)
    first, last = _name_parts(ev.rcpt.address)
    display_first = addr.first_name(ev.rcpt.address, ev.rcpt.display)
    x[INDEX["first_name_in_text"]] = 1.0 if (display_first or first) in evidence.words else 0.0
    x[INDEX["last_name_in_text"]] = 1.0 if last and last in evidence.words else 0.0
    if not known and ev.near_org_contact and not ev.near_contact:
        x[INDEX["near_org_contact"]] = _lw(1.0 + ev.near_org_contact.weight_at(now, h))
    quoted = _text_addresses(evidence)
    if ev.rcpt.address in quoted:
        x[INDEX["address_in_text"]] = 1.0
    elif not known and any(_near_address(ev.rcpt.address, q) for q in quoted):
        x[INDEX["near_address_in_text"]] = 1.0
    if not known:
        x[INDEX["name_typo_in_text"]] = _name_typo(ev.rcpt.address, evidence.words)
    refs = [r for r in (ev.near_contact, ev.near_org_contact, *ev.resembled_refs) if r is not None]
    if refs and not (last and last in evidence.words) and any(
            r.name and r.name in evidence.word_tokens for r in refs):
        x[INDEX["resembled_name_in_text"]] = 1.0
    if evidence.thread_known:
        x[INDEX["on_thread" if ev.on_thread else "off_thread"]] = 1.0
    if ev.resembled_vector is not None:
        x[INDEX["content_vs_resembled"]] = textvec.cosine(evidence.vector, ev.resembled_vector) - own
    if not known:
        x[INDEX["org_tie_sender"]] = _lw(ev.org_tie_sender)
        if ev.org_ties:
            x[INDEX["org_tie_max"]] = _lw(max(ev.org_ties))
            x[INDEX["org_tie_share"]] = sum(1 for t in ev.org_ties if t > 0) / len(ev.org_ties)
            x[INDEX["org_untied"]] = 0.0 if any(t > 0 for t in ev.org_ties) else 1.0
        if ev.name_parts:
            x[INDEX["name_unseen"]] = ev.name_parts_unseen / ev.name_parts
    x[INDEX["sender_novelty"]] = evidence.sender_novelty
    if evidence.greeting:
        if _greets(evidence.greeting, ev):
            x[INDEX["greeted"]] = 1.0
        elif evidence.greeted is not None and not any(_greets(evidence.greeting, o) for o in others):
            x[INDEX["greets_absent"]] = 1.0
    domain = ev.rcpt.domain
    quoted_domains = _text_domains(evidence)
    if domain in quoted_domains:
        x[INDEX["domain_in_text"]] = 1.0
    elif not ev.internal and any(_near_domain(domain, d) for d in quoted_domains):
        x[INDEX["near_domain_in_text"]] = 1.0
    return x


_ADDRESS = re.compile(r"[a-z0-9][a-z0-9._%+'-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)+")


def _text_addresses(evidence: MessageEvidence) -> frozenset[str]:
    cached = evidence.__dict__.get("_quoted")
    if cached is None:
        cached = frozenset(m.group(0).rstrip(".") for m in _ADDRESS.finditer(evidence.text))
        evidence.__dict__["_quoted"] = cached
    return cached


def _greets(word: str, ev: RecipientEvidence) -> bool:
    """Whether a salutation fits this recipient: its first name, a name in its local part, or
    a short form sharing the first three letters ("Steve" for steven.kean)."""
    first = addr.first_name(ev.rcpt.address, ev.rcpt.display)
    if first and (word == first or word[:3] == first[:3]):
        return True
    return word in addr._NAME_SPLIT.split(ev.rcpt.local)


def _text_domains(evidence: MessageEvidence) -> frozenset[str]:
    cached = evidence.__dict__.get("_quoted_domains")
    if cached is None:
        cached = frozenset(q.rpartition("@")[2] for q in _text_addresses(evidence))
        evidence.__dict__["_quoted_domains"] = cached
    return cached


def _near_address(a: str, b: str) -> bool:
    """One edit in the local part, or the same local part at a lookalike domain."""
    if a == b:
        return False
    (la, da), (lb, db) = addr.split(a), addr.split(b)
    if da == db:
        return addr.damerau(la, lb, cap=2) <= 1
    if la == lb:
        return addr.damerau(da, db, cap=2) <= 1 or addr.skeleton(da) == addr.skeleton(db)
    return False


def _near_domain(a: str, b: str) -> bool:
    """One edit or a homoglyph away, the lookalike a quoted address would expose."""
    return a != b and (addr.damerau(a, b, cap=2) <= 1 or addr.skeleton(a) == addr.skeleton(b))


def _name_typo(address: str, words: frozenset[str]) -> float:
    """1 when a name in the local part is missing from the text but a one-edit variant is there."""
    parts = [p for p in addr._NAME_SPLIT.split(addr.split(address)[0]) if p.isalpha() and len(p) >= 4]
    for part in parts:
        if part in words:
            continue
        for word in words:
            if abs(len(word) - len(part)) <= 1 and word[:1] == part[:1] and word != part \
                    and addr.damerau(word, part, cap=2) <= 1:
                return 1.0
    return 0.0


def message_features(evidence: MessageEvidence) -> np.ndarray:
    if not evidence.recipients:
        return np.zeros((0, len(NAMES)))
    cosines, weights = _cosines(evidence), _contact_weights(evidence)
    return np.vstack([recipient_features(evidence, i, cosines, weights)
                      for i in range(len(evidence.recipients))])


def _contact_weights(evidence: MessageEvidence) -> list[float]:
    now, h = evidence.now, evidence.half_life
    return [ev.contact.weight_at(now, h) if ev.contact else 0.0 for ev in evidence.recipients]


def _cosines(evidence: MessageEvidence) -> list[float | None]:
    return [textvec.cosine(evidence.vector, ev.vector) if ev.vector is not None else None
            for ev in evidence.recipients]
