"""The fast look-up (one store call per phase, references followed inside it) must find exactly
what separate look-ups find: every feature of every recipient equal, on both backends."""

from __future__ import annotations

import numpy as np
import pytest

from postwarden.misdirection.features import message_features
from postwarden.misdirection.history import DAY, Recipient, RecipientHistory
from postwarden.stores.base import HistoryStore

T0 = 1_700_000_000.0
MAIL = [
    (["john.smith@acme.com", "mary.jones@acme.com"], "Gas contract", "John and Mary, the contract."),
    (["john.smith@acme.com"], "Re: gas contract", "John, the draft."),
    (["dan.brown@other.org", "john.smith@acme.com"], "Pipeline", "Dan, the pipeline schedule."),
    (["dan.smith@acme.com", "bob@example.com"], "Lunch", "Bob and Dan, lunch?"),
    (["mary.jones@acme.com", "bob@example.com", "dan.brown@other.org"], "Board", "the board report"),
]
PROBES = [
    ["jon.smith@acme.com", "mary.jones@acme.com"],  # a typo of a contact
    ["dan.smith@acrne.com", "bob@example.com"],  # a lookalike domain
    ["dan.brown@other.org", "dan.smith@acme.com", "john.smith@acme.com"],  # two Dans
    ["stranger@elsewhere.net", "mary.jones@acme.com", "marry.jones@acme.com"],
    ["john.smith@acme.com", "mary.jones@acme.com", "bob@example.com"],
    ["mary.jones@acme.net", "dan.brown@other.co.uk"],  # contacts at another public suffix
]


class Reference(HistoryStore):
    """The same data looked up the plain way: the base class's ``lookup``, which makes a
    follow-free call to the backend per kind of key and per reference."""

    def __init__(self, inner: HistoryStore):
        self.inner = inner

    def counters(self, keys):
        return self.inner.lookup(keys, [])[0]

    def get(self, keys):
        return self.inner.lookup([], keys)[1]

    def bump(self, keys, at, half_life):
        self.inner.bump(keys, at, half_life)

    def put(self, items, at):
        self.inner.put(items, at)

    def members(self, bucket):
        return self.inner.members(bucket)

    def purge(self, before):
        return self.inner.purge(before)

    def drop(self, buckets, counters=()):
        return self.inner.drop(buckets, counters)

    def export(self):
        return self.inner.export()

    def restore(self, rows):
        return self.inner.restore(rows)

    def close(self):
        self.inner.close()


@pytest.mark.parametrize("secret", [None, "equivalence-test-secret-0123456789"], ids=["plain", "hashed"])
def test_fast_lookup_finds_what_separate_lookups_find(store, secret):
    history = RecipientHistory(store, secret, 30, 365, ["example.com"])
    for day, (rcpts, subject, text) in enumerate(MAIL * 3):
        at = T0 + day * DAY
        history.learn(history.lookup("alice@example.com", [Recipient(a) for a in rcpts], subject, text, at))
    reference = RecipientHistory(Reference(store), secret, 30, 365, ["example.com"])
    found_near = 0
    for rcpts in PROBES:
        args = ("alice@example.com", [Recipient(a, "Dan" if "dan" in a else "") for a in rcpts],
                "Re: gas contract", "Dan and John, the contract and the pipeline.", T0 + 20 * DAY)
        fast, slow = history.lookup(*args), reference.lookup(*args)
        assert np.array_equal(message_features(fast), message_features(slow))
        for a, b in zip(fast.recipients, slow.recipients, strict=True):
            assert (a.near_contact, a.near_domain, a.same_first, a.same_prefix, a.ties) == \
                (b.near_contact, b.near_domain, b.same_first, b.same_prefix, b.ties)
            assert (a.resembled_vector is None) == (b.resembled_vector is None)
            if a.same_first or a.same_prefix:  # every contact has a centroid: it must be found
                assert a.resembled_vector is not None
            found_near += a.near_contact is not None or a.near_domain is not None
    assert found_near >= 3  # the probes exercise the near-miss round trip, not only the first


def test_a_contact_at_another_suffix_is_found_on_both_backends(store):
    history = RecipientHistory(store, "equivalence-test-secret-0123456789", 30, 365, ["example.com"])
    for day, (rcpts, subject, text) in enumerate(MAIL * 3):
        history.learn(history.lookup("alice@example.com", [Recipient(a) for a in rcpts], subject, text,
                                     T0 + day * DAY))
    ev = history.lookup("alice@example.com", [Recipient("mary.jones@acme.net")], "Board", "Mary,",
                        T0 + 20 * DAY).recipients[0]
    assert ev.near_contact is not None and ev.near_contact.token == history.tok("a", "mary.jones@acme.com")
    assert ev.near_domain is not None and ev.near_domain.token == history.tok("d", "acme.com")
