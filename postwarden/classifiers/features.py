"""From a parsed message to hashed features: what the text models see of a message.

Features come in groups, each a set of strings hashed into one fixed space of ``2**n_bits``:
a string's index is its CRC-32, masked; a bigram's is a mix of its two words' CRCs, so that
bigrams never have to be spelt out (``_pair_hashes``). Within a group every distinct feature
weighs ``1/sqrt(max(count, min_group))``, so a long message does not outshout a short one
and padding one group (hidden text, say) leaves the others as they were. The groups and their
feature spellings:

- ``s:`` / ``sb:`` words and word bigrams of the subject;
- ``w:`` / ``b:`` words and word bigrams of the visible body text (plain parts and rendered HTML);
- ``c:`` character 4-grams of the subject and body words (``<word>`` padded), for misspellings
  and obfuscations that normalisation does not undo;
- ``h:`` words of text hidden from the reader in HTML (display:none, zero-size fonts,
  same-colour text), kept apart so that ham words padded into hidden text do not dilute the
  visible text;
- ``uh:`` / ``ud:`` / ``ut:`` / ``up:`` URL hosts, registrable domains, TLDs and path words
  (``um:`` a host given as an IP address, a link text naming another domain, userinfo);
- ``a:`` what makes an attachment dangerous in any mail (``filetypes.risk_class``), also for
  archive members;
- ``m:`` structure: HTML without a plain alternative, which allowlisted sender-side headers are
  present (``text_hygiene.SENDER_HEADERS``), the mailer family, From display-name words
  (``fn:``), the From domain (``fd:``, registrable part) and address shape, Reply-To domain,
  recipient counts, subject and body shape, obfuscation tricks found by ``normalize``, parser
  defects;
- ``r:`` the shape of the Received chain where the receiving MTA took the message in: the
  client's reverse DNS and HELO, forged-looking relay lines (only shapes, never names:
  ``received``).

Text is normalised first (``normalize.normalise``), digits become ``0``, "https" is read as
"http" (the history of ``FEATURISER_VERSION`` says why for each such choice), and the Date header
is never read, so dates and years are not features. Headers in ``text_hygiene``'s strip list
are never read, except the Received chain for the shape tokens above. Large messages are
bounded: body words come from the first ``max_body_chars`` of text and character n-grams from
the first ``max_char_words`` words, so the cost of featurising a 100 KB message is that of a
~10 KB one.
"""

from __future__ import annotations

import functools
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import repeat
from typing import Any

import numpy as np

from postwarden.classifiers.language import ENGLISH_WORDS
from postwarden.classifiers.normalize import normalise
from postwarden.classifiers.received import received_tokens
from postwarden.classifiers.text_hygiene import SENDER_HEADERS, stripped
from postwarden.filetypes import extension, risk_class
from postwarden.message import ParsedMessage

# 4: no charset, transfer-encoding or Message-ID-domain tokens. They described the form of mail
# of 2002 (plain US-ASCII or Latin-1 ham from the sender's own server), not what a message is:
# re-dressed as today's clients send it (``modern_dress``), held-out ham moved 1.2 (SpamAssassin)
# and 2.1 (Enron) in the logit with them, 0.5 without, and cross-validated recall at 0.1 percent
# FPR was 94.25 percent with them and 94.30 without (BENCHMARKS.md).
# 5: no content-type tokens (``m:html-only`` stays) and of attachments only their risk class
# (program, container, web page): the ham of the corpora has no attachments and almost no
# HTML, so those tokens pushed ordinary business mail of today (HTML with a PDF) towards
# phishing by up to 3.8 in the logit for its form alone (BENCHMARKS.md).
# 6: the letters of European alphabets (ß, ø, ł, æ ...) no longer count as the homoglyph trick.
# 7: http and https are the same: the ham of 2002 linked over http, the phishing of 2015-2018
# more often over https, and today nearly every link of every mail is https, so neither the
# link's scheme nor the word "https" in the text is a feature (BENCHMARKS.md).
# 8: English function words alone are not features (``FUNCTION_WORDS``), only inside bigrams.
FEATURISER_VERSION = 8
# English function words are word features only inside bigrams ("your account", "click here"),
# never alone. Alone they say who writes to whom ("your": a company writing to a customer) more
# than what a message is, and the corpora's ham has none of the notices, orders and receipts that
# speak in the second person today: "Your" opening a subject added 1.5 to the phishing logit of a
# shop's shipping notice. Their character n-grams stay: without them cross-validated recall fell
# (BENCHMARKS.md).
FUNCTION_WORDS = ENGLISH_WORDS | {"a", "an", "at", "for", "i", "in", "is", "me", "of", "on", "we"}
_WORD = re.compile(r"\w+|[$€£!%]")
_PATH_WORD = re.compile(r"[a-z0]+")
_HTTPS = re.compile(r"\bhttps\b")
_DOMAINISH = re.compile(r"\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b")
_IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|^\[?[0-9a-f:]+\]?$")
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go"})
_MAX_URLS = 50
_MAX_WORD = 40


@dataclass(frozen=True)
class FeaturiserSettings:
    """Everything that decides which index a message's features land on; stored in the model."""

    version: int = FEATURISER_VERSION
    n_bits: int = 20
    max_body_chars: int = 10_000
    max_char_words: int = 500
    max_hidden_chars: int = 3_000
    char_n: int = 4
    # Scale of each group, in the order of Featuriser.segments: subject, words, bigrams, char
    # n-grams, hidden, URLs, attachments, structure, Received shape. Structure and URL presence
    # separate the training corpora too well for reasons that do not carry over (the Enron
    # export has no HTML and almost no links), so they speak softer than the text.
    group_scales: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.3, 0.5)
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


class FeatureVector:
    """One message's features: hashed indices, their values, and the strings they came from.

    The strings are kept as (prefix, tokens) segments and joined only when a name is read:
    scoring needs the indices alone, and the reasons name just the few strongest features.
    """

    __slots__ = ("_names", "_segments", "indices", "values")

    def __init__(self, indices: np.ndarray, values: np.ndarray,
                 segments: list[tuple[str, Sequence[str]]] | None = None):
        self.indices = indices
        self.values = values
        self._segments = segments or []
        self._names: list[str] | None = None

    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = [prefix + token for prefix, tokens in self._segments for token in tokens]
        return self._names

    def name(self, position: int) -> str:
        """The feature string at ``position``, without joining every other one."""
        for prefix, tokens in self._segments:
            if position < len(tokens):
                return prefix + tokens[position]
            position -= len(tokens)
        raise IndexError(position)


class _HashCache:
    """CRC-32 of prefix + token, per prefix, without building the prefixed string.

    ``zlib.crc32(token, crc32(prefix))`` is the CRC of the concatenation, so a word seen before
    costs one dictionary look-up. A full cache stops taking new entries rather than being
    cleared: the features met first are the common ones, and clearing would stall one message
    while the cache refills.
    """

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._tables: dict[str, tuple[dict[str, int], int]] = {}

    def hashes(self, prefix: str, tokens: Sequence[str]) -> list[int]:
        table = self._tables.get(prefix)
        if table is None:
            table = self._tables[prefix] = ({}, zlib.crc32(prefix.encode()))
        cache, seed = table
        values = list(map(cache.get, tokens))
        if None in values:
            missing = [t for t, v in zip(tokens, values, strict=True) if v is None]
            encoded = map(str.encode, missing, repeat("utf-8"), repeat("surrogatepass"))
            hashed = dict(zip(missing, map(zlib.crc32, encoded, repeat(seed)), strict=True))
            if len(cache) < self.max_entries:
                cache.update(hashed)
            values = [hashed[t] if v is None else v for t, v in zip(tokens, values, strict=True)]
        return values  # type: ignore[return-value]


_HASHES = _HashCache(max_entries=200_000)


class _Picked(Sequence[str]):
    """``words[i]`` for the chosen positions, read lazily (see FeatureVector)."""

    def __init__(self, words: list[str], positions: np.ndarray):
        self.words, self.positions = words, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i):  # type: ignore[override]
        return self.words[self.positions[i]]


class _Pairs(_Picked):
    """``"word next"`` for the chosen starting positions: the bigrams, spelt only when read."""

    def __getitem__(self, i):  # type: ignore[override]
        p = self.positions[i]
        return f"{self.words[p]} {self.words[p + 1]}"


@dataclass
class _Segment:
    prefix: str
    tokens: Sequence[str]
    hashes: np.ndarray  # uint64 holding 32-bit values, one per distinct token


def _string_segment(prefix: str, tokens: Iterable[str]) -> _Segment:
    tokens = list(tokens)
    return _Segment(prefix, tokens, np.array(_HASHES.hashes(prefix, tokens), dtype=np.uint64))


_M1, _M2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_S32, _S33, _LOW32 = np.uint64(32), np.uint64(33), np.uint64(0xFFFFFFFF)


def _pair_hashes(first: np.ndarray, second: np.ndarray, seed: int) -> np.ndarray:
    """A 32-bit hash of each (first, second) pair of 32-bit hashes: MurmurHash3's finaliser
    over both, so a bigram costs no string and no CRC, and its low bits are well mixed."""
    x = ((first << _S32) | second) ^ np.uint64(seed)
    x ^= x >> _S33
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x & _LOW32


@functools.cache
def _function_word_hashes(prefix: str) -> np.ndarray:
    return np.array(sorted(_HASHES.hashes(prefix, sorted(FUNCTION_WORDS))), dtype=np.uint64)


def _word_segments(words: list[str], prefix: str, pair_prefix: str) -> tuple[_Segment, _Segment]:
    """Distinct words but function words, and distinct adjacent pairs of all words: one cache
    look-up per word occurrence, the pairs computed from the words' hashes."""
    occurrences = np.array(_HASHES.hashes(prefix, words), dtype=np.uint64)
    distinct, first = np.unique(occurrences, return_index=True)
    content = ~np.isin(distinct, _function_word_hashes(prefix), assume_unique=True)
    word_segment = _Segment(prefix, _Picked(words, first[content]), distinct[content])
    if len(words) < 2:
        return word_segment, _Segment(pair_prefix, [], np.zeros(0, dtype=np.uint64))
    pairs = _pair_hashes(occurrences[:-1], occurrences[1:], zlib.crc32(pair_prefix.encode()))
    distinct_pairs, starts = np.unique(pairs, return_index=True)
    return word_segment, _Segment(pair_prefix, _Pairs(words, starts), distinct_pairs)


def _words(text: str) -> list[str]:
    """The words of normalised ``text``, "https" spelt "http" (featuriser 7)."""
    if "https" in text:
        text = _HTTPS.sub("http", text)
    words = _WORD.findall(text)
    if words and max(map(len, words)) > _MAX_WORD:
        words = [w for w in words if len(w) <= _MAX_WORD]
    return words


def _grams_of(word: str, n: int) -> tuple[str, ...]:
    if len(word) < 2 or word.isdigit():
        return ()
    padded = f"<{word}>"
    if len(padded) <= n:
        return (padded,)
    return tuple(padded[i:i + n] for i in range(len(padded) - n + 1))


_GRAM_CACHE: dict[int, dict[str, tuple[str, ...]]] = {}
_GRAM_CACHE_MAX = 100_000


def _char_grams(words: Iterable[str], n: int) -> set[str]:
    cache = _GRAM_CACHE.setdefault(n, {})
    words = list(words)
    found = list(map(cache.get, words))
    if None in found:
        room = len(cache) < _GRAM_CACHE_MAX
        for i, (word, grams) in enumerate(zip(words, found, strict=True)):
            if grams is None:
                found[i] = grams = _grams_of(word, n)
                if room:
                    cache[word] = grams
    return set().union(*found)


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
        if "@" in url.url.split("?")[0]:
            out.add("um:userinfo")
        path = normalise(url.path[:200]).text
        out.update(f"up:{w}" for w in _PATH_WORD.findall(path) if 1 < len(w) <= _MAX_WORD)
    return out


def _attachment_features(message: ParsedMessage) -> set[str]:
    """Only what makes an attachment dangerous in any mail (``filetypes.risk_class``): the ham
    of the corpora has almost no attachments at all (the Enron export none), so a token for a
    PDF or for "has an attachment" learns that ordinary business mail is phishing."""
    out: set[str] = set()
    for att in message.attachments[:20]:
        risk = risk_class(extension(att.filename) or "", att.sniffed_type)
        if risk:
            out.add(f"a:{risk}")
        for member in att.archive_members[:20]:
            risk = risk_class(extension(member) or "")
            if risk:
                out.add(f"a:archived-{risk}")
    return out


def _DIGIT0(text: str) -> str:
    return re.sub(r"\d", "0", text)


def _header_features(message: ParsedMessage, subject_raw: str) -> set[str]:
    out: set[str] = set()
    names = {n.lower() for n, _ in message.headers if not stripped(n)}
    for name in SENDER_HEADERS:
        if name in names:
            out.add(f"m:has:{name}")
    if "text/html" in message.content_types and "text/plain" not in message.content_types:
        out.add("m:html-only")
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

    def indices(self, tokens: Sequence[str]) -> np.ndarray:
        """Where unprefixed tokens (the structure and Received-shape groups') land."""
        hashes = np.array(_HASHES.hashes("", list(tokens)), dtype=np.uint64)
        return (hashes & np.uint64(self._mask)).astype(np.int64)

    def index(self, token: str) -> int:
        return int(self.indices([token])[0])

    def segments(self, message: ParsedMessage, arrival: str | None = None) -> list[list[_Segment]]:
        """The features of a message: per group, its segments of distinct tokens and hashes.
        ``arrival``: the receiving MTA's own Received line when the headers lack it."""
        s = self.settings
        subject_raw = message.subject[:1000]
        subject = normalise(subject_raw)
        body = normalise(message.text[: s.max_body_chars])
        subject_words = _words(subject.text)
        body_words = _words(body.text)
        char_words = set(subject_words)
        char_words.update(body_words[: s.max_char_words])
        meta = _header_features(message, subject_raw)
        meta.update(f"m:trick:{t}" for t in subject.tricks | body.tricks)
        hidden: set[str] = set()
        if message.hidden_text.strip():
            hidden = set(_words(normalise(message.hidden_text[: s.max_hidden_chars]).text))
            meta.add("m:hidden-text=" + _bucket(len(message.hidden_text)))
        return [
            list(_word_segments(subject_words, "s:", "sb:")),
            *([segment] for segment in _word_segments(body_words, "w:", "b:")),
            [_string_segment("c:", _char_grams(char_words, s.char_n))],
            [_string_segment("h:", hidden)],
            [_string_segment("", _url_features(message))],
            [_string_segment("", _attachment_features(message))],
            [_string_segment("", meta)],
            [_string_segment("", received_tokens(message.header("Received"), arrival))],
        ]

    def transform(self, message: ParsedMessage, arrival: str | None = None) -> FeatureVector:
        hashes: list[np.ndarray] = []
        values: list[np.ndarray] = []
        kept: list[tuple[str, Sequence[str]]] = []
        for group, scale in zip(self.segments(message, arrival), self.settings.group_scales, strict=True):
            size = sum(len(seg.hashes) for seg in group)
            if not size or not scale:
                continue
            weight = scale / math.sqrt(max(size, self.settings.min_group))
            for seg in group:
                if len(seg.hashes):
                    hashes.append(seg.hashes)
                    kept.append((seg.prefix, seg.tokens))
            values.append(np.full(size, weight, dtype=np.float32))
        if not hashes:
            return FeatureVector(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        indices = (np.concatenate(hashes) & np.uint64(self._mask)).astype(np.int32)
        return FeatureVector(indices, np.concatenate(values), kept)
