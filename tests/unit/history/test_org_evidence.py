"""The organisation-wide evidence that tells a real first-time recipient from a mistake."""

from __future__ import annotations

import pytest

from postwarden.misdirection.features import INDEX, message_features
from postwarden.misdirection.history import DAY, Recipient, RecipientHistory, greeting
from postwarden.stores.sqlite import SqliteStore

T0 = 1_700_000_000.0


def send(h: RecipientHistory, sender: str, rcpts: list[str], at: float, text: str = "the contract") -> None:
    h.learn(h.lookup(sender, [Recipient(a) for a in rcpts], "s", text, at))


def look(h: RecipientHistory, rcpts: list[str], text: str = "the contract",
         sender: str = "alice@example.com"):
    return h.lookup(sender, [Recipient(a) for a in rcpts], "s", text, T0 + DAY)


def test_someone_who_wrote_to_the_sender_is_tied_to_it_and_a_stranger_is_not(history):
    send(history, "bob@example.com", ["alice@example.com", "carol@acme.com"], T0)
    send(history, "dave@example.com", ["erin@acme.com"], T0)
    ev = look(history, ["bob@example.com", "carol@acme.com", "erin@acme.com"])
    bob, carol, erin = ev.recipients
    assert bob.org_tie_sender > 0  # bob wrote to alice: a reply to him is no surprise
    assert carol.org_tie_sender > 0 and carol.org_ties[0] > 0  # on bob's mail to alice, with bob
    assert erin.org_tie_sender == 0 and erin.org_ties == [0.0, 0.0]


def test_a_name_spelt_like_no_address_here_is_counted_and_a_known_name_is_not(history):
    send(history, "bob@example.com", ["john.smith@acme.com"], T0)
    ev = look(history, ["jonh.smith@acme.com", "john.doe@acme.com"])
    typo, doe = ev.recipients
    assert (typo.name_parts, typo.name_parts_unseen) == (2, 1)  # "jonh" is nobody's name here
    assert (doe.name_parts, doe.name_parts_unseen) == (2, 1)  # "doe" neither; "john" is known
    x = message_features(ev)
    assert x[0, INDEX["name_unseen"]] == pytest.approx(0.5)


def test_the_strongest_contact_of_a_first_name_still_sees_the_other_one(history):
    for i in range(5):
        send(history, "alice@example.com", ["dan.smith@acme.com"], T0 + i)
    send(history, "alice@example.com", ["dan.brown@acme.com"], T0 + 10)
    often, rare = look(history, ["dan.smith@acme.com", "dan.brown@acme.com"]).recipients
    assert rare.same_first is not None and rare.same_first.token == often.token
    assert often.same_first is None  # the strongest Dan is this one ...
    assert often.first_runner_up is not None and often.first_runner_up.token == rare.token  # ... the other


def test_a_sender_who_often_writes_to_someone_new_has_a_high_novelty(history):
    for i in range(4):
        send(history, "alice@example.com", [f"new{i}@acme.com"], T0 + i)
        send(history, "bob@example.com", ["same@acme.com"], T0 + i)
    alice = look(history, ["x@acme.com"])
    bob = look(history, ["x@acme.com"], sender="bob@example.com")
    assert alice.sender_novelty == pytest.approx(1.0, abs=0.01)
    assert bob.sender_novelty == pytest.approx(0.25, abs=0.01)  # only his first message


@pytest.mark.parametrize(("text", "word"), [
    ("Dan,\nthe figures", "dan"), ("Hi Dan - the figures", "dan"), ("\n\n  hello steve!\n", "steve"),
    ("Please see the attached figures", ""), ("John - here they are", "john"),
])
def test_the_salutation_is_read_from_the_first_line(text, word):
    assert greeting(text) == word


def test_a_message_greeting_a_contact_who_is_not_on_it_marks_the_recipients(history):
    for i in range(3):
        send(history, "alice@example.com", ["dan.smith@acme.com"], T0 + i)
        send(history, "alice@example.com", ["eve.jones@acme.com"], T0 + i)
    wrong = message_features(look(history, ["eve.jones@acme.com"], "Dan,\nthe figures you asked for"))
    right = message_features(look(history, ["dan.smith@acme.com"], "Dan,\nthe figures you asked for"))
    assert wrong[0, INDEX["greets_absent"]] == 1 and wrong[0, INDEX["greeted"]] == 0
    assert right[0, INDEX["greeted"]] == 1 and right[0, INDEX["greets_absent"]] == 0


def test_a_quoted_address_at_a_lookalike_domain_is_noticed():
    h = RecipientHistory(SqliteStore(":memory:"), None, 30, 365, ["example.com"])
    ev = h.lookup("alice@example.com", [Recipient("dan@acrne.com"), Recipient("eve@acme.com")], "s",
                  "> From: dan@acme.com\n> the figures", T0)
    x = message_features(ev)
    assert x[0, INDEX["near_domain_in_text"]] == 1 and x[0, INDEX["domain_in_text"]] == 0
    assert x[1, INDEX["domain_in_text"]] == 1


def test_each_recipient_is_compared_with_the_strongest_of_the_other_recipients(history):
    for _ in range(6):
        send(history, "alice@example.com", ["dan@acme.com"], T0)
    send(history, "alice@example.com", ["eve@acme.com", "dan@acme.com"], T0)
    send(history, "alice@example.com", ["bob@acme.com", "dan@acme.com"], T0)
    send(history, "alice@example.com", ["bob@acme.com"], T0)
    ev = look(history, ["dan@acme.com", "eve@acme.com", "bob@acme.com", "zed@acme.com"])
    x = message_features(ev)
    gap = x[:, INDEX["weight_gap"]]
    weight = x[:, INDEX["contact_weight"]]
    assert gap[1] == pytest.approx(weight[0] - weight[1]) and gap[2] == pytest.approx(weight[0] - weight[2])
    assert gap[0] == 0.0  # the strongest contact: the others are all weaker
    assert gap[3] == pytest.approx(weight[0])  # the stranger, against dan
    assert x[:, INDEX["others_new"]].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])
