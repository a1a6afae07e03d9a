"""The recipient history: what each local sender writes to whom, learned and looked up.

Keys. Every address, domain, name and pair becomes a *token*: the text itself in plain mode, or
a keyed BLAKE2b hash (the site secret is the key) in hashed mode, so a stolen store names nobody.
Buckets per sender token S:

- counters ``m`` (messages per sender), ``c:S`` (contacts), ``d:S`` (domains), ``p:S``
  (co-recipient pairs), and organisation-wide ``o`` (domains) and ``oc`` (addresses);
- fields ``x:S``, the sender's similarity index: each contact's first name, autocomplete
  prefix and local part, and the delete-variants, skeleton and stem of each domain, each pointing
  at the strongest contact or domain with that key (token, weight, time); ``x2:S`` the runner-up
  contact of each name, prefix and local part; ``xo`` the organisation's index:
  delete-variants of every address's local part within its domain and its homoglyph skeleton,
  and the delete-variants, skeleton and stem (the name without its public suffix) of every
  domain;
- fields ``v:S`` and ``ov``, decaying content centroids per contact (see textvec); ``t:S``,
  the sender's threads (normalised subjects) and who was on each; ``sa:S``, send-anyway markers;
  ``im:S``, the messages learned (by the daemon or ``history import``), by Message-ID.

A lookup is one store call (one SQL statement, one Redis script call) for mail to known
contacts: the sender's counters, centroids and name keys of every recipient, and the centroid
of the contact each name key points at (the store follows the reference and returns both).
Recipients or domains the sender does not know add one more call: the organisation's counter,
centroid, ties and name parts of each new recipient, and the near-miss keys, each index entry
found followed to the sender's counter of the address it names. A known contact's
organisation-wide counter and centroid are read only by ``learn``, which updates them: its
score does not use them. Keys go to the store grouped by bucket (``HistoryStore.read``), and
each call is answered while the history does what does not need its answer
(``HistoryStore.reading``): a store on the network works meanwhile.
Tokens of addresses and names are kept in bounded caches; pair and thread tokens, which seldom
recur, are hashed without one.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from postwarden.misdirection import addresses as addr
from postwarden.misdirection import textvec
from postwarden.stores.base import REF_OFFSET, Entry, Group, HistoryStore, Key, bumped, decayed

# Every bucket kept per sender token (see the module docstring): what ``forget`` deletes.
SENDER_BUCKETS = ("c:", "d:", "p:", "t:", "v:", "x:", "x2:", "sa:", "im:")
TOKEN_CACHE = 200_000  # hashed tokens kept in memory (a dict: thread-safe for get and set)
MAX_PAIR_RECIPIENTS = 20  # pairs grow quadratically; larger messages learn and score no ties
_REF = struct.Struct("<dd")  # then the token: what a store's ``follow`` reads (REF_OFFSET)
assert _REF.size == REF_OFFSET
DAY = 86400.0


@dataclass(frozen=True)
class Recipient:
    address: str
    display: str = ""

    # Read a few dozen times per message (keys, features, reasons): split once per recipient.
    # cached_property writes the instance's __dict__, which a frozen dataclass allows.
    @functools.cached_property
    def local(self) -> str:
        return addr.split(self.address)[0]

    @functools.cached_property
    def domain(self) -> str:
        return addr.split(self.address)[1]

    @functools.cached_property
    def first_name(self) -> str:
        """``addresses.first_name`` of it: its keys, its features and the greeting all ask."""
        return addr.first_name(self.address, self.display)


class Ref(NamedTuple):
    """An index entry: the strongest contact (or domain) under one key, as of ``last``.

    A named tuple for the reason ``Entry`` is one: a look-up unpacks dozens per message."""

    token: str
    weight: float
    last: float
    name: str = ""  # token of the contact's last name, to see whether the text mentions it

    def weight_at(self, now: float, half_life: float) -> float:
        """The weight decayed to ``now``, as an ``Entry``'s is."""
        return decayed(self.weight, self.last, now, half_life)

    def pack(self) -> bytes:
        return _REF.pack(self.weight, self.last) + f"{self.token}\0{self.name}".encode()

    @classmethod
    def unpack(cls, data: bytes) -> Ref:
        weight, last = _REF.unpack_from(data)
        token, _, name = data[_REF.size:].decode().partition("\0")
        return cls(token, weight, last, name)


@dataclass
class RecipientEvidence:
    rcpt: Recipient
    token: str
    contact: Entry | None = None
    domain_sender: Entry | None = None
    domain_org: Entry | None = None
    org_contact: Entry | None = None
    internal: bool = False
    # org_contact and org_vector not read: a contact of the sender's, whose score uses neither
    # (the look-up leaves out the two random seeks into organisation-wide buckets); ``learn``,
    # which updates both, reads them itself
    org_unread: bool = False
    near_contact: Ref | None = None
    near_org_contact: Ref | None = None
    resembled_vector: np.ndarray | None = None
    near_domain: Ref | None = None
    same_first: Ref | None = None
    same_prefix: Ref | None = None
    ties: list[float] = field(default_factory=list)
    on_thread: bool = False
    vector: np.ndarray | None = None
    org_vector: np.ndarray | None = None
    invalid: str = ""
    # organisation-wide evidence, looked up only for recipients the sender never wrote to:
    org_tie_sender: float = 0.0  # decayed weight of mail (anyone's) that had this sender and it on it
    org_ties: list[float] = field(default_factory=list)  # same, with each co-recipient
    name_parts: int = 0  # name parts (3+ letters) of the local part
    name_parts_unseen: int = 0  # ... that no address known here has
    # the sender's index under its first name and its prefix: (strongest, runner-up) each, own
    # entries included, so that learning can keep both; and the runner-up when this contact is
    # itself the strongest of its name (same_first and same_prefix are then None), so that the
    # frequent Dan picked instead of the rare one still sees the rare one
    first_refs: tuple[Ref | None, Ref | None] = (None, None)
    prefix_refs: tuple[Ref | None, Ref | None] = (None, None)
    first_runner_up: Ref | None = None
    prefix_runner_up: Ref | None = None

    @property
    def resembled_refs(self) -> tuple[Ref | None, Ref | None]:
        """The other contact of the same first name, and of the same prefix."""
        return (self.same_first or self.first_runner_up, self.same_prefix or self.prefix_runner_up)


@dataclass
class MessageEvidence:
    sender: str
    now: float
    sender_messages: float
    recipients: list[RecipientEvidence]
    vector: np.ndarray
    words: frozenset[str]
    half_life: float
    text: str = ""
    word_tokens: frozenset[str] = frozenset()
    thread: str = ""  # token of the normalised subject, "" when too generic to be a thread
    subject_key: str = ""
    thread_known: bool = False
    sender_novelty: float = 0.0  # share of the sender's (decayed) messages that had a new recipient
    greeting: str = ""  # the name the body opens with ("Dan," / "Hi Dan"), "" without one
    greeted: Ref | None = None  # the sender's strongest contact with that first name


class _RecipientKeys(NamedTuple):
    """The tokens of one recipient. Cached packed into one string (``_pack_keys``), not as this
    tuple: every tuple made counts toward the garbage collector's next collection until one
    examines it, so a cache that fills with a few new addresses per message set one off every
    few dozen messages, and every tenth of them a longer one (BENCHMARKS.md, "Speed")."""

    token: str
    domain: str  # the domain's token
    first: str | None  # token of the first name, None without one
    prefix: str | None  # token of the autocomplete prefix
    internal: bool


# A recipient new to the sender, with the keys of its organisation-wide evidence: the tie to the
# sender, the ties to each co-recipient, and its name parts in the organisation's vocabulary.
_OrgKeys = tuple[RecipientEvidence, Key, list[Key], list[Key]]
# A recipient or domain new to the sender, with its near-miss keys: the delete-variants of its
# address, those of its domain, and its local part's key (the same person at another domain).
_NearKeys = tuple[RecipientEvidence, list[str], list[str], str]


class _NearMisses(NamedTuple):
    """The near-miss round trip of one message (``_near_miss_keys``): what it asks, and how to
    read what it finds into the evidence of each recipient it concerns."""

    groups: list[Group]
    org: list[_OrgKeys]
    new: list[RecipientEvidence]  # the recipients new to the sender
    wanted: list[_NearKeys]


class Tokens:
    """Plain text, or keyed hashes of it (16 bytes of BLAKE2b keyed with the site secret)."""

    def __init__(self, secret: str | None):
        self.hashed = bool(secret)
        self._key = hashlib.blake2b(secret.encode(), digest_size=32).digest() if secret else b""
        # Keying BLAKE2b costs a compression; copying a keyed state does not, same digest.
        self._keyed = hashlib.blake2b(key=self._key, digest_size=12) if secret else None
        # Keyed by the very text hashed, a string: a tuple key per entry would count toward the
        # garbage collector's next collection, which a cache filling with new addresses sets off
        # every few dozen messages (strings are not tracked at all).
        self._cache: dict[str, str] = {}

    def __call__(self, kind: str, text: str) -> str:
        if not self.hashed:
            return f"{kind}{text}" if kind not in ("a", "d") else text
        key = f"{kind}\0{text}"
        token = self._cache.get(key)
        if token is None:
            hasher = self._keyed.copy()  # type: ignore[union-attr]
            hasher.update(key.encode())
            token = hasher.hexdigest()
            if len(self._cache) >= TOKEN_CACHE:  # addresses recur: keep the hot ones, bound the rest
                self._cache.clear()
            self._cache[key] = token
        return token

    def many(self, kind: str, texts: list[str]) -> list[str]:
        """The tokens of many texts that seldom recur (pairs, thread members): hashed in one
        loop without the cache, which they would only churn. The same tokens as ``__call__``."""
        if not self.hashed:
            return [f"{kind}{text}" for text in texts]
        keyed, head, out = self._keyed, f"{kind}\0", []
        for text in texts:
            hasher = keyed.copy()  # type: ignore[union-attr]
            hasher.update((head + text).encode())
            out.append(hasher.hexdigest())
        return out

    def find(self, kind: str, texts: Iterable[str], token: str) -> str | None:
        """The text among ``texts`` whose token is ``token``: hashed one by one until it is found,
        without the cache, which the thousand or two one-off variants of an address that hashed
        mode tries to name a contact would fill, clearing out the addresses that recur."""
        if not self.hashed:
            return next((t for t in texts if self(kind, t) == token), None)
        keyed, head = self._keyed, f"{kind}\0"
        for text in texts:
            hasher = keyed.copy()  # type: ignore[union-attr]
            hasher.update((head + text).encode())
            if hasher.hexdigest() == token:
                return text
        return None


_GREETING = re.compile(r"^\s*(?:(?:hi|hello|dear|hey|morning|good morning)[\s,]+)?"
                       r"([a-z]{2,20})\s*(?:[,:!]|-\s|$)")


def greeting(text: str) -> str:
    """The word the body opens with when it reads like a salutation ("Dan," or "Hi Dan"):
    whom the message is written to, which a wrong recipient usually is not."""
    for line in text[:500].lower().splitlines():
        if line.strip():
            match = _GREETING.match(line)
            return match.group(1) if match else ""
    return ""


_REPLY = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|tr|rv)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def thread_subject(subject: str) -> str:
    """The subject without reply and forward prefixes: what ties the messages of a thread."""
    text = " ".join(_REPLY.sub("", subject).lower().split())
    return text if len(text) >= 4 else ""


def _pairs(tokens: Sequence[object]) -> list[tuple[int, int]]:
    n = min(len(tokens), MAX_PAIR_RECIPIENTS)
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _pair_index(i: int, j: int, n: int) -> int:
    """Where the pair (i, j), i < j, comes in ``_pairs`` of n tokens (n at most
    MAX_PAIR_RECIPIENTS): the pairs of every i before it, then j's place after i."""
    return i * (2 * n - i - 1) // 2 + j - i - 1


class RecipientHistory:
    """Learning and looking up one store; thread-safe because the store is."""

    def __init__(self, store: HistoryStore, secret: str | None, half_life_days: float,
                 horizon_days: float, local_domains: list[str] | tuple[str, ...] = ()):
        self.store = store
        self.tok = Tokens(secret)
        self.half_life = half_life_days * DAY
        self.horizon = horizon_days * DAY
        self.local_domains = frozenset(d.lower() for d in local_domains)
        self._rkeys: dict[str, str] = {}  # packed _RecipientKeys

    # -- keys ----------------------------------------------------------------------------------
    def _pair_tokens(self, toks: list[str], pairs: list[tuple[int, int]]) -> list[str]:
        """The token of each co-recipient pair, the same whichever of the two comes first."""
        texts = []
        for i, j in pairs:
            a, b = toks[i], toks[j]
            texts.append(f"{a} {b}" if a <= b else f"{b} {a}")
        return self.tok.many("p", texts)

    def _name_keys(self, r: Recipient) -> tuple[str | None, str | None]:
        first = r.first_name
        pre = addr.prefix(r.address)
        return (self.tok("f", first) if first else None, self.tok("x", pre) if pre else None)

    def last_name_token(self, address: str) -> str:
        parts = [p for p in addr._NAME_SPLIT.split(addr.split(address)[0]) if p.isalpha() and len(p) >= 3]
        return self.tok("w", parts[-1]) if len(parts) >= 2 else ""

    def name_part_tokens(self, address: str) -> list[str]:
        """Tokens of the local part's name parts, the organisation's name vocabulary: a typo
        of a first-time address usually spells a name no address here has."""
        parts = {p for p in addr._NAME_SPLIT.split(addr.split(address)[0]) if p.isalpha() and len(p) >= 3}
        return [self.tok("w", p) for p in sorted(parts)]

    def _local_keys(self, r: Recipient) -> list[str]:
        local, domain = addr.split(r.address)
        keys = self.tok.many("l", [f"{domain}@{v}" for v in addr.deletes(local)])
        keys.append(self.tok("k", addr.skeleton(r.address)))
        return keys

    def _domain_keys(self, domain: str) -> list[str]:
        keys = [self.tok("n", v) for v in addr.deletes(domain)]
        keys.append(self.tok("K", addr.skeleton(domain)))
        base = addr.stem(domain)
        if base:
            keys.append(self.tok("N", base))
        return keys

    def _alive(self, entry: Entry | None, now: float) -> Entry | None:
        if entry is None or (self.horizon > 0 and now - entry.last > self.horizon):
            return None
        return entry

    def _alive_ref(self, data: bytes | None, now: float, own: str = "") -> Ref | None:
        if data is None:
            return None
        ref = Ref.unpack(data)
        if ref.token == own or (self.horizon > 0 and now - ref.last > self.horizon):
            return None
        return ref

    # -- lookup --------------------------------------------------------------------------------
    def _recipient_keys(self, r: Recipient) -> _RecipientKeys:
        """The tokens every look-up of this recipient needs, computed once per address (and
        display name) and kept in a bounded cache: addresses recur from message to message."""
        cache_key = f"{len(r.address)}:{r.address}{r.display}"  # strings only: see _RecipientKeys
        packed = self._rkeys.get(cache_key)
        if packed is not None:
            token, domain, first, pre, internal = packed.split("\0")
            return _RecipientKeys(token, domain, first or None, pre or None, internal == "1")
        domain = r.domain  # the cached property: the features read it too
        first, pre = self._name_keys(r)
        keys = _RecipientKeys(self.tok("a", r.address), self.tok("d", domain), first, pre,
                              domain in self.local_domains)
        packed = "\0".join((keys.token, keys.domain, first or "", pre or "", "1" if keys.internal else ""))
        if packed.count("\0") == 4:  # not when a plain-mode token has a NUL of its own: then uncached
            if len(self._rkeys) >= TOKEN_CACHE:
                self._rkeys.clear()
            self._rkeys[cache_key] = packed
        return keys

    def lookup(self, sender: str, rcpts: list[Recipient], subject: str, text: str,
               now: float) -> MessageEvidence:
        """What the store knows of this sender and these recipients. Each round trip is read
        while the client does what does not need its answer (``HistoryStore.reading``): the
        message's vector and words during the first, during the second every recipient's name
        entries, centroids and ties, which the first one brought."""
        tok = self.tok
        s = tok("a", sender)
        cs, ds, xs, vs, ts, ps = "c:" + s, "d:" + s, "x:" + s, "v:" + s, "t:" + s, "p:" + s
        x2 = "x2:" + s
        rkeys = [self._recipient_keys(r) for r in rcpts]
        toks = [k.token for k in rkeys]
        domains = list(dict.fromkeys(k.domain for k in rkeys))  # recipients share domains
        # recipients share first names and prefixes too: each entry read (and followed) once
        names = list(dict.fromkeys(key for k in rkeys for key in (k.first, k.prefix) if key))
        greet = greeting(text)
        greet_key = tok("f", greet) if greet else ""
        pair_tokens = self._pair_tokens(toks, _pairs(toks))
        subject_key = thread_subject(subject)
        thread = tok("t", subject_key) if subject_key else ""
        on_tokens = tok.many("t", [f"{subject_key}\0{r.address}" for r in rcpts]) if thread else []
        groups: list[Group] = [  # built bucket by bucket, as the store reads them
            ("c", "m", [s], ""), ("c", "mn", [s], ""), ("c", cs, toks, ""), ("c", ds, domains, ""),
            ("c", "o", domains, ""), ("c", ps, pair_tokens, ""), ("f", vs, toks, ""),
            ("f", xs, [greet_key] if greet_key else [], ""),
            ("f", ts, [thread, *on_tokens] if thread else [], ""),
            # name keys, with the centroid of the contact each points at
            ("f>", xs, names, vs), ("f>", x2, names, vs)]
        with self.store.reading([g for g in groups if g[2]]) as answer:
            vector = textvec.text_vector(subject, text)  # while the store looks up
            words = frozenset(textvec._WORD.findall((subject + " " + text[:textvec.MAX_CHARS]).lower()))
            counters, fields = answer()
        alive = self._alive
        sender_entry = alive(counters.get(("m", s)), now)
        evidence = MessageEvidence(
            sender=sender, now=now, half_life=self.half_life,
            sender_messages=sender_entry.count if sender_entry else 0.0,
            sender_novelty=_share(alive(counters.get(("mn", s)), now), sender_entry, now, self.half_life),
            recipients=[], vector=vector, words=words,
            text=(subject + "\n" + text[:textvec.MAX_CHARS]).lower(),
            thread=thread, subject_key=subject_key,
            thread_known=bool(thread and (ts, thread) in fields),
            greeting=greet, greeted=self._alive_ref(fields.get((xs, greet_key)), now) if greet_key else None)
        cget = counters.get
        for r, k in zip(rcpts, rkeys, strict=True):  # what decides the near-miss round trip
            ev = RecipientEvidence(rcpt=r, token=k.token, internal=k.internal)
            ev.contact = alive(cget((cs, k.token)), now)
            ev.domain_sender = alive(cget((ds, k.domain)), now)
            ev.domain_org = alive(cget(("o", k.domain)), now)
            ev.org_unread = ev.contact is not None  # else the near-miss round trip reads them
            evidence.recipients.append(ev)
        near = self._near_miss_keys(s, evidence, pair_tokens)
        with self.store.reading(near.groups) as answer:
            self._contact_evidence(s, evidence, rkeys, fields, on_tokens)  # while the store looks up
            self._ties(evidence, counters, ps, pair_tokens)
            self._near_miss_evidence(s, evidence, near, *answer())
        if any(ref is not None and ref.name for ev in evidence.recipients
               for ref in (*ev.resembled_refs, ev.near_contact, ev.near_org_contact)):
            evidence.word_tokens = frozenset(self.tok("w", w) for w in words if w.isalpha())
        return evidence

    def _contact_evidence(self, s: str, evidence: MessageEvidence, rkeys: list[_RecipientKeys],
                          fields: dict[Key, bytes], on_tokens: list[str]) -> None:
        """Each recipient's entries under its first name and prefix, whether it was on the
        thread, its centroid, and the centroid of the contact it resembles, from the first
        round trip: the store followed every name entry to the centroid it names, so none is
        asked for again (one that is missing there is gone)."""
        xs, x2, vs, ts = "x:" + s, "x2:" + s, "v:" + s, "t:" + s
        now, thread, alive_ref, fget = evidence.now, evidence.thread, self._alive_ref, fields.get
        for n, (ev, k) in enumerate(zip(evidence.recipients, rkeys, strict=True)):
            t = k.token
            if k.first:  # each entry unpacked once: the strongest is same_first unless it is this one
                top = alive_ref(fget((xs, k.first)), now)
                ev.first_refs = (top, alive_ref(fget((x2, k.first)), now))
                ev.same_first = top if top is not None and top.token != t else None
                ev.first_runner_up = _other(ev.first_refs, t) if ev.same_first is None else None
            if k.prefix:
                top = alive_ref(fget((xs, k.prefix)), now)
                ev.prefix_refs = (top, alive_ref(fget((x2, k.prefix)), now))
                ev.same_prefix = top if top is not None and top.token != t else None
                ev.prefix_runner_up = _other(ev.prefix_refs, t) if ev.same_prefix is None else None
            if thread:
                ev.on_thread = (ts, on_tokens[n]) in fields
            raw = fget((vs, t))
            ev.vector = textvec.unpack(raw) if raw and ev.contact else None
            ref = _strongest(ev.resembled_refs)
            raw = fget((vs, ref.token)) if ref is not None else None
            ev.resembled_vector = textvec.unpack(raw) if raw is not None else None

    def _ties(self, evidence: MessageEvidence, counters: dict[Key, Entry], ps: str,
              pair_tokens: list[str]) -> None:
        """Each recipient's ties: the decayed weight of the sender's mail to it and each
        co-recipient together (the first round trip read the pairs, in ``_pairs`` order)."""
        now, h, alive, cget = evidence.now, self.half_life, self._alive, counters.get
        recipients = evidence.recipients
        for (i, j), pair in zip(_pairs(recipients), pair_tokens, strict=True):
            entry = cget((ps, pair))  # most pairs were never mailed together: no call for those
            entry = alive(entry, now) if entry is not None else None
            w = entry.weight_at(now, h) if entry else 0.0
            recipients[i].ties.append(w)
            recipients[j].ties.append(w)

    def _near_miss_keys(self, s: str, evidence: MessageEvidence, pair_tokens: list[str]) -> _NearMisses:
        """The second round trip, only for what the sender does not know: which unknown
        recipient or domain is almost a known one, and what the organisation knows of a
        recipient new to the sender (its counter, centroid, ties and name parts). No groups when
        every recipient and domain is known (``reading`` then makes no call).

        Near-miss keys of addresses live in the organisation index only (one entry per address,
        not per sender and address, which keeps a store of a million pairs small); whether the
        resembled address is this sender's contact comes in the same round trip, by following
        each index entry found to the sender's counter of the address it names. Not folded into
        the first round trip: before it nobody knows which recipients are new, so every
        recipient's ~17 delete-variants would be hashed and sent, ~20 µs of client time each,
        ~0.2 ms a message even for mail to known contacts, which takes no second round trip
        (BENCHMARKS.md, "Speed").
        """
        xs, cs = "x:" + s, "c:" + s
        org = self._org_keys(s, evidence, pair_tokens)
        wanted: list[_NearKeys] = []
        new = [ev for ev in evidence.recipients if ev.contact is None]
        local_keys: list[str] = []
        domain_keys: list[str] = []
        local_part_keys: list[str] = []
        for ev in evidence.recipients:
            local = self._local_keys(ev.rcpt) if ev.contact is None else []
            domain = (self._domain_keys(ev.rcpt.domain)
                      if ev.domain_sender is None and not ev.internal else [])
            # A new domain: is the local part a contact's, at the domain this one resembles?
            same_local = self.tok("j", ev.rcpt.local) if domain else ""
            if not local and not domain:
                continue
            local_keys += local
            domain_keys += domain
            if same_local:
                local_part_keys.append(same_local)
            wanted.append((ev, local, domain, same_local))
        new_tokens = [ev.token for ev in new]
        groups: list[Group] = [
            ("c", "op", [key[1] for _, tie, ties, _ in org for key in (tie, *ties)], ""),
            ("c", "on", [key[1] for *_, names in org for key in names], ""),
            ("c", "oc", new_tokens, ""), ("f", "ov", new_tokens, ""),
            ("c>", "xo", local_keys, cs),  # each entry found comes back with the sender's counter it names
            ("f", xs, domain_keys + local_part_keys, ""), ("f", "xo", domain_keys, ""),
            ("f", "x2:" + s, local_part_keys, "")]  # the local part's runner-up address
        return _NearMisses([g for g in groups if g[2]], org, new, wanted)

    def _near_miss_evidence(self, s: str, evidence: MessageEvidence, near: _NearMisses,
                            mine: dict[Key, Entry], fields: dict[Key, bytes]) -> None:
        """What the second round trip found (``_near_miss_keys``), into each new recipient's
        evidence."""
        xs, cs, now = "x:" + s, "c:" + s, evidence.now
        for ev in near.new:
            ev.org_contact = self._alive(mine.get(("oc", ev.token)), now)
            raw = fields.get(("ov", ev.token))
            ev.org_vector = textvec.unpack(raw) if raw else None
        self._org_evidence(near.org, evidence, mine)  # the organisation's counters came in this round trip
        for ev, local, domain, same_local in near.wanted:
            refs = {ref.token: ref for ref in (self._alive_ref(fields.get(("xo", k)), now, own=ev.token)
                                               for k in local) if ref is not None}
            own_domain = self.tok("d", ev.rcpt.domain)
            ev.near_domain = _strongest(self._alive_ref(fields.get((b, k)), now, own=own_domain)
                                        for k in domain for b in (xs, "xo"))
            # The entries (the sender's strongest address with this local part, and the runner-up)
            # name the contact and, in place of a last name, its domain's token.
            namesakes = [self._alive_ref(fields.get((b, same_local)), now) for b in (xs, "x2:" + s)
                         ] if same_local and ev.near_domain else []
            own = [Ref(n.token, n.weight, n.last) for n in namesakes
                   if n is not None and n.name == ev.near_domain.token][:1]
            if not refs and not own:
                continue
            for ref in refs.values():
                entry = self._alive(mine.get((cs, ref.token)), now)
                if entry is not None:
                    own.append(Ref(ref.token, entry.weight, entry.last, ref.name))
            ev.near_contact = _strongest(own)
            ev.near_org_contact = _strongest(refs.values()) if not own else None

    def _org_keys(self, s: str, evidence: MessageEvidence, pair_tokens: list[str]) -> list[_OrgKeys]:
        """Organisation-wide counters for each recipient the sender never wrote to: its ties
        (anyone's mail with it and this sender, or it and a co-recipient) and its name parts
        (used only when nobody here knows it, which its counter, read in the same round trip,
        tells). Made once per message, for the look-up and for reading what it found. A tie
        with a co-recipient is the pair the sender's own tie was read under (``pair_tokens``, in
        ``_pairs`` order): only the pair with the sender is hashed here."""
        recipients = evidence.recipients[:MAX_PAIR_RECIPIENTS]
        n = len(recipients)
        toks = [ev.token for ev in recipients]
        new = [(k, ev) for k, ev in enumerate(recipients) if ev.contact is None]
        with_sender = self._pair_tokens([s, *(ev.token for _, ev in new)],
                                        [(0, j) for j in range(1, len(new) + 1)])
        return [(ev, ("op", tie), [("op", pair_tokens[_pair_index(min(i, k), max(i, k), n)])
                                   for i, t in enumerate(toks) if t != ev.token],
                 [("on", t) for t in self.name_part_tokens(ev.rcpt.address)])
                for (k, ev), tie in zip(new, with_sender, strict=True)]

    def _org_evidence(self, org_keys: list[_OrgKeys], evidence: MessageEvidence,
                      org: dict[Key, Entry]) -> None:
        now, h, alive = evidence.now, self.half_life, self._alive
        for ev, tie, ties, names in org_keys:
            ev.org_tie_sender = _weight(alive(org.get(tie), now), now, h)
            ev.org_ties = [_weight(alive(org.get(key), now), now, h) for key in ties]
            ev.name_parts = len(names)
            if ev.org_contact is None:  # an address known here has its own name parts
                ev.name_parts_unseen = sum(1 for key in names if key not in org)

    # -- learning ------------------------------------------------------------------------------
    def _read_for_learning(self, evidence: MessageEvidence, s: str,
                           local_keys: list[str]) -> dict[Key, bytes]:
        """What learning reads that the look-up left out, in one store call when there is any:
        the organisation's counter and centroid of each known contact (``org_unread``), which
        learning updates, and the sender's two entries of each local part in ``local_keys``,
        which ``_local_part_puts`` may rewrite. Returns the fields read."""
        unread = [ev for ev in evidence.recipients if ev.org_unread]
        entries = [(b + s, key) for key in local_keys for b in ("x:", "x2:")]
        if not unread and not entries:
            return {}
        counters, fields = self.store.lookup([("oc", ev.token) for ev in unread],
                                             [("ov", ev.token) for ev in unread] + entries)
        for ev in unread:
            ev.org_contact = self._alive(counters.get(("oc", ev.token)), evidence.now)
            raw = fields.get(("ov", ev.token))
            ev.org_vector = textvec.unpack(raw) if raw else None
            ev.org_unread = False
        return fields

    def learn(self, evidence: MessageEvidence, at: float | None = None,
              identity: bytes | None = None) -> None:
        """Record one delivered message, given the evidence its lookup returned. ``identity``
        (``split.identity``'s) marks it as learned in the write that learns it, so a later
        ``history import`` of a Sent folder that holds it does not count it again."""
        at = evidence.now if at is None else at
        tok, h = self.tok, self.half_life
        s = tok("a", evidence.sender)
        xs = "x:" + s
        contacts = [bumped(ev.contact, at, h) for ev in evidence.recipients]
        # the local part's entries, for the same person at a lookalike domain, are rewritten as
        # the organisation's index is (``_index_due``)
        local_keys = {ev.token: tok("j", ev.rcpt.local)
                      for ev, new in zip(evidence.recipients, contacts, strict=True)
                      if self._index_due(ev.contact, new, at)}
        current = self._read_for_learning(evidence, s, list(dict.fromkeys(local_keys.values())))
        bumps: list[Key] = [("m", s)]
        if any(ev.contact is None for ev in evidence.recipients):
            bumps.append(("mn", s))
        puts: list[tuple[str, str, bytes]] = []
        local_parts: dict[str, Ref] = {}  # local-part key -> the address it would name from now on
        seen_domains: set[str] = set()
        for ev, new in zip(evidence.recipients, contacts, strict=True):
            r, t = ev.rcpt, ev.token
            d = tok("d", r.domain)
            bumps += [("c:" + s, t), ("oc", t)]
            if ev.org_contact is None:  # a new address here: its name parts join the vocabulary
                bumps += [("on", k) for k in self.name_part_tokens(r.address)]
            name = self.last_name_token(r.address)
            ref = Ref(t, new.weight, at, name).pack()  # for the sender's name keys
            if t in local_keys:
                local_parts[local_keys[t]] = Ref(t, new.weight, at, d)
            org = bumped(ev.org_contact, at, h)
            if self._index_due(ev.org_contact, org, at):
                oref = Ref(t, org.weight, at, name).pack()
                puts += [("xo", k, oref) for k in self._local_keys(r)]
            for key, (top, second) in zip(self._name_keys(r), (ev.first_refs, ev.prefix_refs), strict=True):
                if key:
                    puts += _ranked_puts(s, key, top, second, t, ref, new.weight, at, h)
            decay = decayed(1.0, ev.contact.last, at, h) if ev.contact else 1.0
            puts.append(("v:" + s, t, textvec.pack(textvec.accumulate(ev.vector, decay, evidence.vector))))
            org_vec = evidence.vector if ev.org_vector is None else ev.org_vector * 0.98 + evidence.vector
            puts.append(("ov", t, textvec.pack(org_vec)))
            if d in seen_domains:
                continue
            seen_domains.add(d)
            bumps += [("d:" + s, d), ("o", d)]
            for bucket, entry in ((xs, ev.domain_sender), ("xo", ev.domain_org)):
                after = bumped(entry, at, h)
                if self._index_due(entry, after, at):
                    dref = Ref(d, after.weight, at).pack()
                    puts += [(bucket, k, dref) for k in self._domain_keys(r.domain)]
        if evidence.thread:
            subject_key_tokens = self.tok.many("t", [f"{evidence.subject_key}\0{ev.rcpt.address}"
                                                     for ev in evidence.recipients])
            puts.append(("t:" + s, evidence.thread, b"1"))
            puts += [("t:" + s, k, b"1") for k in subject_key_tokens]
        toks = [ev.token for ev in evidence.recipients]
        bumps += [("p:" + s, p) for p in self._pair_tokens(toks, _pairs(toks))]
        nodes = [s, *toks]  # the organisation's graph: the sender is a node, so a reply is a tie
        bumps += [("op", p) for p in self._pair_tokens(nodes, _pairs(nodes))]
        puts += self._local_part_puts(s, local_parts, current, at)
        if identity:
            puts.append((*self.import_key(evidence.sender, identity), b"1"))
        with self.store.batch():  # one transaction (SQLite): counters and index agree after a crash
            self.store.bump(bumps, at, h)
            self.store.put(puts, at)

    def _index_due(self, before: Entry | None, after: Entry, at: float) -> bool:
        """Whether this learn (re)writes the index entries of an address or domain (near-miss
        keys, local part, domain variants): a dozen or more keys, so not on every message, but
        when its count reaches a power of two (its weight there then changes enough to matter)
        and on its first use in each quarter of the horizon. An entry carries the time it was
        written and counts for nothing past the horizon; by doublings alone, a contact written
        to weekly for three years would lose it for months at a time, and with it the typos of
        its address. So an entry of an address in use is never older than a quarter of the
        horizon plus the time since that use."""
        if _power_of_two(after.count):
            return True
        if before is None or self.horizon <= 0:
            return False
        quarter = self.horizon / 4
        return at // quarter != before.last // quarter

    def _local_part_puts(self, s: str, candidates: dict[str, Ref], current: dict[Key, bytes],
                         at: float) -> list[tuple[str, str, bytes]]:
        """The local-part entries to write: the sender's strongest address with that local part
        and the runner-up, as for first names, from the entries ``current`` holds
        (``_read_for_learning``). The latest address alone would let one message to
        ``dan.smith@gmail.com`` take the entry from the ``dan.smith@acme.com`` written to every
        day, and ``dan.smith@acme.co`` would no longer be that contact at a lookalike domain."""
        out = []
        for key, ref in candidates.items():
            top, second = (self._alive_ref(current.get((b + s, key)), at) for b in ("x:", "x2:"))
            out += _ranked_puts(s, key, top, second, ref.token, ref.pack(), ref.weight, at, self.half_life)
        return out

    # -- send anyway ---------------------------------------------------------------------------
    def fingerprint(self, sender: str, subject: str, rcpts: list[str]) -> str:
        subject = " ".join(subject.lower().split())
        return self.tok("h", "\n".join([sender, subject, *sorted(set(rcpts))]))

    def import_key(self, sender: str, identity: bytes) -> Key:
        """Where ``learn`` marks a message of ``sender`` it learned (``identity``: its
        Message-ID, else its bytes, as ``split.identity`` has it), so that importing the same
        mail again does not count it twice."""
        return "im:" + self.tok("a", sender), self.tok("i", identity.decode("utf-8", "replace"))

    def mark(self, sender: str, fingerprint: str, state: str, at: float) -> None:
        self.store.put([("sa:" + self.tok("a", sender), fingerprint, f"{state} {at!r}".encode())], at)

    def marked(self, sender: str, fingerprint: str) -> tuple[str, float] | None:
        raw = self.store.get([("sa:" + self.tok("a", sender), fingerprint)])
        value = next(iter(raw.values()), None)
        if value is None:
            return None
        state, _, when = value.decode().partition(" ")
        return state, float(when)

    # -- forgetting -----------------------------------------------------------------------------
    def forget(self, sender: str) -> int:
        """Delete everything this history keeps per ``sender`` (contacts, domains, pairs, index,
        centroids, threads, send-anyway and learned-message marks, its message counters); return
        how many entries went. What it added to the organisation-wide entries stays: those are
        sums over every sender, and its share of them is not kept apart."""
        s = self.tok("a", sender)
        return self.store.drop([b + s for b in SENDER_BUCKETS], [("m", s), ("mn", s)])

    # -- naming in hashed mode -----------------------------------------------------------------
    def name_of(self, kind: str, token: str, near: str) -> str | None:
        """The plain text behind ``token`` if it is one edit or homoglyph away from ``near``, or
        (a domain, or an address's domain) its stem at a common suffix."""
        if not self.tok.hashed:
            return token
        if self.tok(kind, near) == token:
            return near
        candidates = addr.homoglyph_variants(near) | addr.single_edits(near)
        if kind == "d":
            candidates |= addr.suffix_swaps(near)
        elif kind == "a":
            local, domain = addr.split(near)
            candidates |= {f"{local}@{d}" for d in addr.suffix_swaps(domain)}
        return self.tok.find(kind, candidates, token)


def _ranked_puts(s: str, key: str, top: Ref | None, second: Ref | None, token: str, packed: bytes,
                 weight: float, at: float, half_life: float) -> list[tuple[str, str, bytes]]:
    """The writes that keep a key's two entries of sender ``s`` (``x:``, the strongest address,
    and ``x2:``, the runner-up) right once ``token`` has ``weight``: it takes the place of the
    first it is at least as strong as, and a strongest it displaces becomes the runner-up."""
    if top is None or top.token == token or top.weight_at(at, half_life) <= weight:
        displaced = [("x2:" + s, key, top.pack())] if top is not None and top.token != token else []
        return [("x:" + s, key, packed), *displaced]
    if second is None or second.token == token or second.weight_at(at, half_life) <= weight:
        return [("x2:" + s, key, packed)]
    return []


def _other(refs: tuple[Ref | None, Ref | None], own: str) -> Ref | None:
    """The strongest entry that is not ``own``."""
    return next((ref for ref in refs if ref is not None and ref.token != own), None)


def _strongest(refs: object) -> Ref | None:
    """The entry of the largest stored weight; of equal ones, the smallest token, so the choice
    never depends on the order the keys came in (near-miss keys come from sets, whose order
    changes with PYTHONHASHSEED: two processes or nodes would otherwise name different contacts
    for the same message)."""
    best: Ref | None = None
    for ref in refs:  # type: ignore[attr-defined]
        if ref is not None and (best is None or (ref.weight, best.token) > (best.weight, ref.token)):
            best = ref
    return best


def _share(part: Entry | None, whole: Entry | None, now: float, half_life: float) -> float:
    total = _weight(whole, now, half_life)
    return min(1.0, _weight(part, now, half_life) / total) if total > 0 else 0.0


def _weight(entry: Entry | None, now: float, half_life: float) -> float:
    return entry.weight_at(now, half_life) if entry is not None else 0.0


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0
