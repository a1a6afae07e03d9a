"""What a message is about, as a small fixed-size vector: the content signal of the history.

Which of a sender's contacts belong on a message shows in its words (Carvalho and Cohen's best
leak detector used the text). Storing text is out of the question, so each contact keeps a
decaying centroid of signed, hashed word counts (feature hashing, a random projection that
keeps inner products on average) in ``DIM`` float16 numbers: no words, no order, and no way back
to the text, but enough for a cosine between a new message and what the sender usually writes
to that contact.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from functools import lru_cache
from itertools import filterfalse

import numpy as np

DIM = 256
MAX_CHARS = 6000
_WORD = re.compile(r"[a-z][a-z0-9']{2,24}")
STOP = frozenset("""
the and for you your are was were this that with from have has had not but all any can will
would could should there their they them then than what when where which who whom why how our
ours out over into onto about also just like been being more most much some such only very its
it's i'm i've i'll we're we'll don't doesn't didn't can't won't isn't aren't let please thanks
thank regards sent message original subject date cc bcc com www http https html mailto enron
""".split())  # noqa: SIM905 - a word list reads better as text


def _slot(word: str) -> tuple[int, float]:
    digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
    value = int.from_bytes(digest, "little")
    return value % DIM, 1.0 if value >> 31 else -1.0


_CACHE: dict[str, tuple[int, float]] = {}
_LOGS = [np.float64(0.0), *(np.log(k) for k in range(1, 2048))]  # np.log(n) without a NumPy call


def _log(n: int) -> np.float64:
    return _LOGS[n] if n < len(_LOGS) else np.log(n)


@lru_cache(maxsize=64)
def text_vector(subject: str, text: str) -> np.ndarray:
    """Unit-length float32 vector of the subject (counted twice) and the first body text.

    Cached for the few most recent texts (the evaluation scores each message several times);
    callers must not modify the array.
    """
    words = _WORD.findall(subject.lower()) * 2 + _WORD.findall(text[:MAX_CHARS].lower())
    # counted in C, in the order words first occur (what the slot assignment below relies on)
    counts = Counter(filterfalse(STOP.__contains__, words))
    vec = np.zeros(DIM, dtype=np.float32)
    slots, values = [], []
    for word, n in counts.items():
        slot = _CACHE.get(word)
        if slot is None:
            slot = _slot(word)
            if len(_CACHE) < 200_000:
                _CACHE[word] = slot
        slots.append(slot[0])
        values.append(slot[1] * (1.0 + _log(n)))
    if len(set(slots)) == len(slots):  # no two words share a slot: one assignment, the same float32s
        vec[slots] = values
    else:
        for slot, value in zip(slots, values, strict=True):
            vec[slot] += value
    length = norm(vec)
    return vec / length if length > 0 else vec


# A centroid is a decayed sum of unit vectors, so its length is about the number of messages it
# remembers. float16 overflows at 65,504: a few hundred identical messages a day from one sender
# to one address (a monitoring job's alerts) would reach that within a half-life, and an infinite
# centroid stays infinite and makes every cosine NaN. Past this length a centroid is scaled down,
# which only makes it forget faster than the half-life says: it still means what it meant.
MAX_LENGTH = 1024.0


def accumulate(centroid: np.ndarray | None, decay: float, vector: np.ndarray) -> np.ndarray:
    """``centroid * decay + vector``, at most ``MAX_LENGTH`` long; a missing centroid, or one that
    is no longer finite (written before the cap), starts again from ``vector``."""
    if centroid is None:
        return vector
    out = centroid * decay + vector
    length = norm(out)
    if not math.isfinite(length):
        return vector
    return out * (MAX_LENGTH / length) if length > MAX_LENGTH else out


def pack(vec: np.ndarray) -> bytes:
    return vec.astype("<f2").tobytes()


def unpack(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def norm(a: np.ndarray) -> float:
    """sqrt(a·a): what np.linalg.norm computes for a 1-D vector (the same float), without its checks."""
    return float(np.sqrt(a.dot(a)))


def cosine(a: np.ndarray, b: np.ndarray, norm_a: float | None = None) -> float:
    """The cosine of two vectors; ``norm_a``, ``norm(a)`` computed once by a caller that compares
    one message with many centroids."""
    na, nb = norm(a) if norm_a is None else norm_a, norm(b)
    if not (0 < na < math.inf and 0 < nb < math.inf):  # NaN fails too: a damaged centroid says nothing
        return 0.0
    return float(a @ b) / (na * nb)
