"""The token caches hold strings only, so that filling them sets off no garbage collections
(the benchmark's p99 had them), and a cached recipient's keys are exactly the uncached ones."""

from __future__ import annotations

import gc

import pytest

from postwarden.misdirection.history import Recipient, RecipientHistory
from postwarden.stores.sqlite import SqliteStore

RECIPIENTS = [Recipient("dan.smith@acme.com", "Dan Smith"), Recipient("x@corp.test"),
              Recipient("7@corp.test", ""), Recipient("ann@acme.com", "Ann\0Lee"),
              Recipient("ann@acme.com", "Ann Lee")]


@pytest.mark.parametrize("secret", ["a site secret for tests", None])
def test_cached_keys_equal_the_uncached_ones(secret: str | None) -> None:
    history = RecipientHistory(SqliteStore(":memory:"), secret, 180.0, 730.0, ("corp.test",))
    fresh = [RecipientHistory(SqliteStore(":memory:"), secret, 180.0, 730.0, ("corp.test",))
             ._recipient_keys(r) for r in RECIPIENTS]
    first = [history._recipient_keys(r) for r in RECIPIENTS]
    again = [history._recipient_keys(r) for r in RECIPIENTS]
    assert first == fresh and again == fresh
    assert fresh[1].internal and fresh[2].first is None and not fresh[0].internal


def test_caches_hold_no_objects_the_collector_tracks() -> None:
    history = RecipientHistory(SqliteStore(":memory:"), "a site secret for tests", 180.0, 730.0, ())
    history.lookup("me@corp.test", RECIPIENTS, "Hello", "Dan, hello.", 1_700_000_000.0)
    for cache in (history._rkeys, history.tok._cache):
        assert cache and not any(gc.is_tracked(k) or gc.is_tracked(v) for k, v in cache.items())


def test_naming_a_contact_in_hashed_mode_leaves_the_cache_to_the_addresses_that_recur() -> None:
    """Hashed mode names the contact a typo resembles by hashing the typo's one-edit variants,
    a thousand or more; through the cache they would fill it and, at its bound, clear it."""
    history = RecipientHistory(SqliteStore(":memory:"), "a site secret for tests", 180.0, 730.0, ())
    contact = history.tok("a", "john.smith@acme-industries.com")
    before = len(history.tok._cache)
    assert history.name_of("a", contact, "jon.smith@acme-industries.com") == "john.smith@acme-industries.com"
    assert history.name_of("a", contact, "mary.jones@acme-industries.com") is None
    assert len(history.tok._cache) <= before + 2  # the two addresses themselves
