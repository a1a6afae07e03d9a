"""From a parsed message to hashed features: what the text models see of a message.

Features come in groups, each a set of strings hashed (CRC-32, masked to ``n_bits``) into one
fixed space. Within a group every distinct feature weighs ``1/sqrt(max(count, min_group))``, so a long message
does not outshout a short one and padding one group (hidden text, say) leaves the others as
they were. The groups and their feature spellings:

- ``s:`` / ``sb:`` words and word bigrams of the subject;
- ``w:`` / ``b:`` words and word bigrams of the visible body text (plain parts and rendered HTML);
- ``c:`` character 4-grams of the subject and body words (``<word>`` padded), for misspellings
  and obfuscations that normalisation does not undo;
- ``h:`` words of text hidden from the reader in HTML (display:none, zero-size fonts,
  same-colour text), kept apart so that ham words padded into hidden text do not dilute the
  visible text;
- ``uh:`` / ``ud:`` / ``ut:`` / ``up:`` URL hosts, registrable domains, TLDs and path words;
- ``a:`` attachment types (declared, sniffed, extension, archive members);
- ``m:`` structure: MIME content types, charset and transfer encoding, which allowlisted
  sender-side headers are present (``text_hygiene.SENDER_HEADERS``), the mailer family, From
  display-name words (``fn:``), the From domain (``fd:``, registrable part) and address shape,
  Reply-To domain, recipient counts, subject
  and body shape, obfuscation tricks found by ``normalize``, parser defects.

Text is normalised first (``normalize.normalise``), digits become ``0``, and the Date header
is never read, so dates and years are not features. Headers in ``text_hygiene``'s strip list
are never read. Large messages are bounded: body words come from the first
``max_body_chars`` of text and character n-grams from the first ``max_char_chars``, so the cost
of featurising a 100 KB message is that of a ~10 KB one.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from dataclasses import asdict, dataclass
from itertools import repeat
from typing import Any

import numpy as np

from postwarden.classifiers.normalize import normalise
from postwarden.classifiers.text_hygiene import SENDER_HEADERS, stripped
from postwarden.message import ParsedMessage

FEATURISER_VERSION = 1
_WORD = re.compile(r"\w+|[$€£!%]")
_PATH_WORD = re.compile(r"[a-z0]+")
_DOMAINISH = re.compile(r"\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b")
_IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|^\[?[0-9a-f:]+\]?$")
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go"})
_MAX_URLS = 50
_MAX_WORD = 40
_HASH_CACHE: dict[str, int] = {}
_HASH_CACHE_MAX = 400_000


@dataclass(frozen=True)
class FeaturiserSettings:
    """Everything that decides which index a message's features land on; stored in the model."""

    version: int = FEATURISER_VERSION
    n_bits: int = 20
    max_body_chars: int = 10_000
    max_char_chars: int = 3_000
    max_hidden_chars: int = 3_000
    char_n: int = 4
    # Scale of each group, in the order of Featuriser.groups: subject, words, bigrams, char
    # n-grams, hidden, URLs, attachments, structure. Structure and URL presence separate the
    # training corpora too well for reasons that do not carry over (the Enron export has no
    # HTML and almost no links), so they speak softer than the text.
    group_scales: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.3)
    # A group with fewer features than this weighs each as if it had this many, so a two-word
    # message ("hello there") is not decided by two words at full strength.
    min_group: int = 16

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeaturiserSettings:
        data = dict(data)
        if "group_scales" in data:
            data["group_scales"] = tuple(float(x) for x in data["group_scales"])
        return cls(**data)


@dataclass
class FeatureVector:
    """One message's features: hashed indices, their values, and the strings they came from."""

    indices: np.ndarray
    values: np.ndarray
    names: list[str]


def _hashes(features: list[str]) -> list[int]:
    """CRC-32 of each feature, through a bounded cache (most words recur from message to message).

    A full cache stops taking new entries rather than being cleared: the features met first
    are the common ones, and clearing would stall one message while the cache refills.
    """
    values = list(map(_HASH_CACHE.get, features))
    if None in values:
        missing = [f for f, v in zip(features, values, strict=True) if v is None]
        encoded = map(str.encode, missing, repeat("utf-8"), repeat("surrogatepass"))
        hashed = dict(zip(missing, map(zlib.crc32, encoded), strict=True))
        if len(_HASH_CACHE) < _HASH_CACHE_MAX:
            _HASH_CACHE.update(hashed)
        values = [hashed[f] if v is None else v for f, v in zip(features, values, strict=True)]
    return values  # type: ignore[return-value]


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if len(w) <= _MAX_WORD]


def _bigrams(words: list[str], prefix: str) -> set[str]:
    return {f"{prefix}{a} {b}" for a, b in itertools.pairwise(words)}


def _grams_of(word: str, n: int) -> tuple[str, ...]:
    if len(word) < 2 or word.isdigit():
        return ()
    padded = f"<{word}>"
    if len(padded) <= n:
        return ("c:" + padded,)
    return tuple("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))


_GRAM_CACHE: dict[tuple[str, int], tuple[str, ...]] = {}
_GRAM_CACHE_MAX = 100_000


def _char_grams(words: set[str], n: int) -> set[str]:
    grams: set[str] = set()
    cache = _GRAM_CACHE
    room = len(cache) < _GRAM_CACHE_MAX
    for word in words:
        key = (word, n)
        found = cache.get(key)
        if found is None:
            found = _grams_of(word, n)
            if room:
                cache[key] = found
        grams.update(found)
    return grams


def registrable(host: str) -> str:
    """An approximation of the registrable domain (no public-suffix list at run time)."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _bucket(n: int) -> str:
    return str(min(int(math.log2(n + 1)), 20))


def _url_features(message: ParsedMessage) -> set[str]:
    out: set[str] = set()
    seen: set[str] = set()
    for url in message.urls:
        if url.url in seen:
            continue
        seen.add(url.url)
        if len(seen) > _MAX_URLS:
            break
        host = url.host
        if _IP_HOST.match(host):
            out.add("um:ip-host")
        else:
            host = normalise(host).text
            domain = registrable(host)
            out.update((f"uh:{host}", f"ud:{domain}", f"ut:{domain.rpartition('.')[2]}"))
            if url.anchor_text:
                shown = _DOMAINISH.findall(url.anchor_text.lower())
                if shown and all(registrable(s) != domain for s in shown):
                    out.add("um:anchor-shows-other-domain")
        if url.url.lower().startswith("https:"):
            out.add("um:https")
        if "@" in url.url.split("?")[0]:
            out.add("um:userinfo")
        path = normalise(url.path[:200]).text
        out.update(f"up:{w}" for w in _PATH_WORD.findall(path) if 1 < len(w) <= _MAX_WORD)
    return out


def _attachment_features(message: ParsedMessage) -> set[str]:
    out: set[str] = set()
    for att in message.attachments[:20]:
        out.add(f"a:declared:{att.declared_type}")
        out.add(f"a:sniffed:{att.sniffed_type}")
        ext = att.filename.rpartition(".")[2].lower() if "." in att.filename else ""
        if ext and len(ext) <= 8:
            out.add(f"a:ext:{_DIGIT0(ext)}")
        for member in att.archive_members[:20]:
            mext = member.rpartition(".")[2].lower() if "." in member else ""
            if mext and len(mext) <= 8:
                out.add(f"a:member-ext:{_DIGIT0(mext)}")
    if message.attachments:
        out.add("a:count=" + _bucket(len(message.attachments)))
    return out


def _DIGIT0(text: str) -> str:
    return re.sub(r"\d", "0", text)


def _param(value: str, name: str) -> str:
    found = re.search(rf'(?i)\b{name}\s*=\s*"?([^";\s]+)', value)
    return found.group(1).lower() if found else ""


def _header_features(message: ParsedMessage, subject_raw: str) -> set[str]:
    out: set[str] = set()
    names = {n.lower() for n, _ in message.headers if not stripped(n)}
    for name in SENDER_HEADERS:
        if name in names:
            out.add(f"m:has:{name}")
    for ctype in set(message.content_types):
        out.add(f"m:ct:{ctype}")
    if "text/html" in message.content_types and "text/plain" not in message.content_types:
        out.add("m:html-only")
    top = message.first("Content-Type") or ""
    charset = _param(top, "charset")
    if charset:
        out.add(f"m:charset:{charset[:30]}")
    cte = (message.first("Content-Transfer-Encoding") or "").strip().lower()
    if cte:
        out.add(f"m:cte:{cte[:20]}")
    mailer = message.first("X-Mailer") or message.first("User-Agent") or ""
    if mailer:
        words = _words(normalise(mailer[:100]).text)[:2]
        out.add("m:mailer:" + " ".join(words))
    priority = (message.first("X-Priority") or "").strip()[:1]
    if priority:
        out.add(f"m:priority:{priority}")
    if not message.from_:
        out.add("m:no-from")
    for addr in message.from_[:1]:
        name = normalise(addr.name[:100]).text
        out.update(f"fn:{w}" for w in _words(name))
        if "@" in addr.name:
            out.add("m:from-name-has-address")
        local, _, domain = addr.address.lower().rpartition("@")
        if domain:
            out.add(f"m:from-tld:{domain.rpartition('.')[2][:10]}")
            out.add(f"fd:{registrable(normalise(domain[:100]).text)}")
        if sum(c.isdigit() for c in local) >= 3:
            out.add("m:from-local-digits")
        for reply in message.reply_to[:1]:
            if reply.domain and registrable(reply.domain) != registrable(domain):
                out.add("m:reply-to-other-domain")
    rcpts = len(message.to) + len(message.cc)
    out.add("m:rcpts=" + _bucket(rcpts))
    to_text = " ".join(message.header("To")).lower()
    if "undisclosed" in to_text or not message.to:
        out.add("m:to-undisclosed-or-empty")
    letters = [c for c in subject_raw if c.isalpha()]
    if len(letters) >= 5 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        out.add("m:subject-caps")
    if not subject_raw.strip():
        out.add("m:subject-empty")
    if re.match(r"(?i)\s*(re|fw|fwd|aw|sv)\s*:", subject_raw):
        out.add("m:subject-reply")
    if not message.text.strip():
        out.add("m:no-text")
    for defect in message.defects[:8]:
        out.add("m:defect:" + _DIGIT0(defect.split(":")[0])[:40])
    return out


class Featuriser:
    """Stateless: the same settings give the same indices on every machine and run."""

    def __init__(self, settings: FeaturiserSettings | None = None):
        self.settings = settings or FeaturiserSettings()
        self._mask = (1 << self.settings.n_bits) - 1

    @property
    def dimension(self) -> int:
        return 1 << self.settings.n_bits

    def groups(self, message: ParsedMessage) -> list[set[str]]:
        """The feature strings of a message, one set per group."""
        s = self.settings
        subject_raw = message.subject[:1000]
        subject = normalise(subject_raw)
        body = normalise(message.text[: s.max_body_chars])
        subject_words = _words(subject.text)
        body_words = _words(body.text)
        char_words = set(subject_words)
        char_words.update(_words(body.text[: s.max_char_chars]))
        meta = _header_features(message, subject_raw)
        meta.update(f"m:trick:{t}" for t in subject.tricks | body.tricks)
        hidden: set[str] = set()
        if message.hidden_text.strip():
            hidden_norm = normalise(message.hidden_text[: s.max_hidden_chars])
            hidden = {f"h:{w}" for w in _words(hidden_norm.text)}
            meta.add("m:hidden-text=" + _bucket(len(message.hidden_text)))
        return [
            {f"s:{w}" for w in subject_words} | _bigrams(subject_words, "sb:"),
            {f"w:{w}" for w in body_words},
            _bigrams(body_words, "b:"),
            _char_grams(char_words, s.char_n),
            hidden,
            _url_features(message),
            _attachment_features(message),
            meta,
        ]

    def transform(self, message: ParsedMessage) -> FeatureVector:
        names: list[str] = []
        values: list[float] = []
        for group, scale in zip(self.groups(message), self.settings.group_scales, strict=True):
            if not group or not scale:
                continue
            weight = scale / math.sqrt(max(len(group), self.settings.min_group))
            names.extend(group)
            values.extend([weight] * len(group))
        indices = np.asarray(_hashes(names), dtype=np.int64) & self._mask
        return FeatureVector(indices.astype(np.int32), np.asarray(values, dtype=np.float32), names)
