"""Near misses and lookalikes, as tables."""

from __future__ import annotations

import pytest

from postwarden.misdirection import addresses as addr


@pytest.mark.parametrize(("a", "b", "meets"), [
    ("john.smith", "jon.smith", True),     # dropped letter
    ("john.smith", "john.smtih", True),    # swapped letters
    ("john.smith", "johnsmith", True),     # dropped dot
    ("john.smith", "john.smiyh", True),    # keyboard neighbour
    ("john.smith", "jane.smith", False),   # another person
])
def test_symmetric_deletes_meet_for_one_edit(a, b, meets):
    assert bool(addr.deletes(a) & addr.deletes(b)) is meets


@pytest.mark.parametrize(("fake", "real"), [
    ("acrne.com", "acme.com"), ("examp1e.com", "example.com"), ("g00gle.com", "google.com"),
    ("аcme.com", "acme.com"),  # Cyrillic a
])
def test_homoglyph_lookalikes_share_a_skeleton(fake, real):
    assert addr.skeleton(fake) == addr.skeleton(real)


def test_different_domains_keep_different_skeletons():
    assert addr.skeleton("acme.com") != addr.skeleton("acne.com")


@pytest.mark.parametrize(("address", "display", "first"), [
    ("dan.smith@acme.com", "", "dan"),
    ("dsmith@acme.com", "Smith, Dan", "dan"),
    ("x7@acme.com", "Dan Smith", "dan"),
    ("dsmith@acme.com", "", ""),
])
def test_first_name_from_display_name_or_local_part(address, display, first):
    assert addr.first_name(address, display) == first


def test_damerau_counts_a_transposition_as_one_edit():
    assert addr.damerau("smith", "smtih") == 1
    assert addr.damerau("smith", "jones") == 3  # capped


def test_single_edits_and_homoglyph_variants_reach_the_original():
    assert "acme.com" in addr.single_edits("acme.co")
    assert "acme.com" in addr.homoglyph_variants("acrne.com")


@pytest.mark.parametrize(("lookalike", "real"), [
    ("acme.net", "acme.com"), ("acme.co.uk", "acme.com"), ("mail.acme.org", "mail.acme.com")])
def test_a_domain_at_another_public_suffix_shares_the_stem_and_is_named_back(lookalike, real):
    assert addr.stem(lookalike) == addr.stem(real)
    assert real in addr.suffix_swaps(lookalike)


@pytest.mark.parametrize("domain", ["yahoo.fr", "hotmail.co.uk", "ab.com", "localhost"])
def test_freemail_providers_and_tiny_names_have_no_stem(domain):
    """yahoo.fr is not a lookalike of yahoo.com: one provider under many suffixes."""
    assert addr.stem(domain) == "" and addr.suffix_swaps(domain) == set()


def test_subdomains_keep_their_labels_in_the_stem():
    assert addr.stem("lon.acme.com") != addr.stem("ny.acme.com")
