"""The history itself: what it remembers, what it finds near, what it forgets."""

from __future__ import annotations

import pytest

from postwarden.misdirection.history import DAY, Recipient, RecipientHistory

T0 = 1_700_000_000.0


def learn(h: RecipientHistory, rcpts: list[str], at: float = T0, text: str = "the contract") -> None:
    h.learn(h.lookup("alice@example.com", [Recipient(a) for a in rcpts], "s", text, at))


def look(h: RecipientHistory, rcpts: list[str], at: float = T0 + DAY):
    return h.lookup("alice@example.com", [Recipient(a) for a in rcpts], "s", "the contract", at)


def test_contacts_domains_and_ties_are_counted(history):
    for i in range(3):
        learn(history, ["john.smith@acme.com", "mary.jones@acme.com"], T0 + i)
    ev = look(history, ["john.smith@acme.com", "mary.jones@acme.com", "new@acme.com"])
    john, _mary, new = ev.recipients
    assert john.contact.count == 3 and new.contact is None
    assert new.domain_sender is not None and new.domain_sender.count == 3  # acme.com is known
    assert john.ties[0] > 0 and new.ties == [0.0, 0.0]
    assert ev.sender_messages == 3


def test_a_typo_finds_the_contact_it_resembles_and_hashed_mode_can_still_name_it(history):
    learn(history, ["john.smith@acme.com"])
    typo = look(history, ["jon.smith@acme.com"]).recipients[0]
    assert typo.near_contact is not None
    assert history.name_of("a", typo.near_contact.token, "jon.smith@acme.com") == "john.smith@acme.com"


def test_a_lookalike_domain_finds_the_known_domain(history):
    learn(history, ["dan@acme.com"])
    for fake in ("dan@acrne.com", "dan@acme.co", "dan@acmee.com"):
        ev = look(history, [fake]).recipients[0]
        assert ev.near_domain is not None, fake
        assert history.name_of("d", ev.near_domain.token, fake.split("@")[1]) == "acme.com"


def test_same_first_name_points_at_the_stronger_contact(history):
    for i in range(5):
        learn(history, ["dan.smith@acme.com"], T0 + i)
    learn(history, ["dan.brown@other.org"], T0 + 10)
    brown = look(history, ["dan.brown@other.org"]).recipients[0]
    smith = look(history, ["dan.smith@acme.com"]).recipients[0]
    assert brown.same_first is not None and brown.same_first.weight > 1
    assert smith.same_first is None  # the strongest Dan is this one


def test_counts_decay_with_the_half_life(history):
    learn(history, ["john.smith@acme.com"])
    ev = look(history, ["john.smith@acme.com"], at=T0 + 30 * DAY).recipients[0]
    assert ev.contact.weight_at(T0 + 30 * DAY, history.half_life) == pytest.approx(0.5)


def test_contacts_beyond_the_horizon_are_forgotten(history):
    learn(history, ["john.smith@acme.com"])
    ev = look(history, ["john.smith@acme.com"], at=T0 + 400 * DAY).recipients[0]
    assert ev.contact is None


def test_send_anyway_marks_are_per_message_fingerprint(history):
    fp = history.fingerprint("alice@example.com", "Re:  Contract", ["b@x.com", "a@x.com"])
    assert fp == history.fingerprint("alice@example.com", "re: contract", ["a@x.com", "b@x.com"])
    assert fp != history.fingerprint("alice@example.com", "other", ["a@x.com", "b@x.com"])
    history.mark("alice@example.com", fp, "flagged", T0)
    assert history.marked("alice@example.com", fp) == ("flagged", T0)
    assert history.marked("bob@example.com", fp) is None


def test_a_thread_remembers_who_was_on_it(history):
    h = history
    h.learn(h.lookup("alice@example.com", [Recipient("john@acme.com")], "Gas contract", "t", T0))
    ev = h.lookup("alice@example.com", [Recipient("john@acme.com"), Recipient("eve@other.org")],
                  "RE: Fw: gas  contract", "t", T0 + 60)
    assert ev.thread_known
    assert [r.on_thread for r in ev.recipients] == [True, False]
    other = h.lookup("alice@example.com", [Recipient("john@acme.com")], "Lunch", "t", T0 + 60)
    assert not other.thread_known
