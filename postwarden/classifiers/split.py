"""The one rule that splits labelled mail into train, validation and test.

A message's *identity* is its Message-ID (angle brackets and case dropped) when it has one, else
the SHA-256 of its raw bytes with any leading mbox ``From `` line removed. Copies of one message
(the same Message-ID in two corpus folders, or one message sent twice) therefore always land in
the same split, so a test message is never also a training message.

``bucket = int(sha256(b"postwarden-split-v1:" + identity)[:8], 16) % 100``:
0-69 train, 70-84 validation, 85-99 test. Cross-validation folds use the same hash:
``fold = bucket % k``. `train`, `eval`, `learn` and the benchmark scripts all call this module,
so a figure reported on "the test split" is always on the same messages.
"""

from __future__ import annotations

import hashlib
import re

TRAIN, VALIDATION, TEST = "train", "validation", "test"
SPLITS = (TRAIN, VALIDATION, TEST)
_SALT = b"postwarden-split-v1:"
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def identity(raw: bytes) -> bytes:
    """What makes two stored messages the same message (see the module docstring)."""
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw
    found = _MESSAGE_ID.search(head)
    by_id = message_id_identity(found.group(1)) if found else None
    return by_id or b"raw:" + hashlib.sha256(raw).hexdigest().encode()


def message_id_identity(value: bytes) -> bytes | None:
    """The identity a Message-ID header's value gives (None when it is blank): for a caller that
    has the parsed headers, not the bytes, and must name the message as ``identity`` does."""
    value = b" ".join(value.split()).strip(b"<> ").lower()
    return b"mid:" + value if value else None


def bucket(raw: bytes) -> int:
    """0..99, stable across machines, Python versions and runs."""
    digest = hashlib.sha256(_SALT + identity(raw)).hexdigest()
    return int(digest[:8], 16) % 100


def split_of_bucket(b: int) -> str:
    if b < 70:
        return TRAIN
    return VALIDATION if b < 85 else TEST


def split_of(raw: bytes) -> str:
    return split_of_bucket(bucket(raw))


def fold_of(raw: bytes, folds: int = 5) -> int:
    """Cross-validation fold of a message; folds follow the same hash as the splits."""
    return bucket(raw) % folds
