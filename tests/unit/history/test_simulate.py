"""The simulated mistakes are what they claim to be."""

from __future__ import annotations

import random

import pytest

from postwarden.misdirection import addresses as addr
from postwarden.misdirection import simulate


@pytest.mark.parametrize("seed", range(30))
def test_a_typo_is_one_edit_away_in_the_local_part(seed):
    rng = random.Random(seed)
    got = simulate.typo(rng, "john.smith@acme.com", lambda a: False)
    local, domain = addr.split(got)
    assert domain == "acme.com" and local != "john.smith"
    assert addr.damerau(local, "john.smith") == 1


@pytest.mark.parametrize("seed", range(30))
def test_a_lookalike_keeps_the_local_part_and_changes_the_domain(seed):
    got = simulate.lookalike(random.Random(seed), "dan@acme.com", lambda a: False)
    local, domain = addr.split(got)
    assert local == "dan" and domain != "acme.com"


def test_same_name_prefers_the_first_name_and_skips_present_recipients():
    contacts = ["dan.brown@x.com", "dan.smith@x.com", "dana.white@x.com", "bob@x.com"]
    got = simulate.same_name(random.Random(1), "dan.smith@x.com", contacts, {"dan.smith@x.com"})
    assert got == "dan.brown@x.com"


def test_a_stranger_is_never_a_contact():
    pool = ["a@x.com", "b@x.com", "c@x.com"]
    for seed in range(20):
        got = simulate.stranger(random.Random(seed), pool, lambda a: a != "a@x.com")
        assert got in {"b@x.com", "c@x.com"}
