"""Deliverability checks with a stub resolver, the shipped weights file, and the evaluation's
reading of malformed addresses."""

from __future__ import annotations

import json

import dns.exception
import dns.resolver
import numpy as np
import pytest

from postwarden.misdirection import evaluate
from postwarden.misdirection.corpus import sent_message
from postwarden.misdirection.history import Recipient
from postwarden.misdirection.model import ModelError, load_weights
from postwarden.misdirection.validity import AddressValidator
from postwarden.sources import StoredMessage


class StubResolver:
    def __init__(self, answers: dict):
        self.answers = answers
        self.calls = 0

    def resolve(self, name, rdtype, lifetime=None):
        self.calls += 1
        result = self.answers.get((name, rdtype), dns.resolver.NoAnswer())
        if isinstance(result, Exception):
            raise result
        return result


class MX:
    def __init__(self, exchange: str):
        self.exchange = exchange


@pytest.mark.parametrize(("answers", "problem"), [
    ({("acme.com", "MX"): [MX("mx.acme.com.")]}, ""),
    ({("acme.com", "MX"): dns.resolver.NXDOMAIN()}, "does not exist"),
    ({("acme.com", "MX"): [MX(".")]}, "null MX"),
    ({("acme.com", "A"): ["192.0.2.1"]}, ""),  # no MX, but an address record
    ({}, "no mail server"),
    ({("acme.com", "MX"): dns.exception.Timeout()}, ""),  # slow DNS says nothing
])
def test_domain_problems(answers, problem):
    validator = AddressValidator(resolver=StubResolver(answers))
    got = validator.domain_problem("acme.com")
    assert (problem in got) if problem else got == ""


def test_definite_answers_are_cached_and_timeouts_are_not():
    stub = StubResolver({("gone.example", "MX"): dns.resolver.NXDOMAIN(),
                         ("slow.example", "MX"): dns.exception.Timeout()})
    validator = AddressValidator(resolver=stub)
    for _ in range(3):
        validator.domain_problem("gone.example")
        validator.domain_problem("slow.example")
    assert stub.calls == 1 + 3


def test_syntax_problems_come_from_email_validator():
    assert AddressValidator.syntax_problem("john..smith@acme.com")
    assert AddressValidator.syntax_problem("john.smith@acme.com") == ""


def test_the_shipped_weights_load_and_were_trained_without_the_held_out_mailboxes():
    weights = load_weights()
    meta = weights.meta
    assert set(meta["train_mailboxes"]).isdisjoint(meta["held_out_mailboxes"])
    train, test = evaluate.split_users(meta["train_mailboxes"] + meta["held_out_mailboxes"])
    assert (train, test) == (meta["train_mailboxes"], meta["held_out_mailboxes"])
    assert 0 < weights.thresholds["fpr_1"] <= weights.default_threshold < 1


def test_a_weights_file_for_other_features_is_refused(tmp_path):
    data = load_weights().to_dict()
    data["features"] = data["features"][:-1]
    path = tmp_path / "w.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="other features"):
        load_weights(path)


def test_a_domain_we_already_deliver_to_is_not_refused_for_being_special_use():
    assert AddressValidator.syntax_problem("mary@example.test", known_domain=True) == ""
    assert "special-use" in AddressValidator.syntax_problem("mary@example.test")


def test_the_evaluation_counts_a_malformed_address_as_stopped_whatever_its_score():
    """A doubled dot is a typo a person makes and the check stops outright (550 naming the
    syntax problem): the evaluation must count it so, not by the model's score."""
    history = evaluate.new_history()
    ev = history.lookup("alice@enron.com", [Recipient("s..ward@acme.com"), Recipient("bob@acme.com")],
                        "Figures", "Here they are.", 1.0e9)
    rows = evaluate.Rows()
    rows.add(ev, 0, "typo", "alice", 0)
    data = rows.arrays()
    assert data["invalid"].tolist() == [True, False]
    scores = evaluate.deployed_scores(load_weights(None), data)
    assert scores[0] == np.inf and np.isfinite(scores[1])


def test_the_evaluation_counts_a_contact_at_a_lookalike_domain_as_stopped_as_the_check_does():
    history = evaluate.new_history()
    for i in range(3):
        history.learn(history.lookup("alice@enron.com", [Recipient("bob@acme.com")], "s", "x", 1.0e9 + i))
    ev = history.lookup("alice@enron.com", [Recipient("bob@acme.co"), Recipient("bob@acme.com")],
                        "Figures", "Here they are.", 1.0e9 + 10)
    rows = evaluate.Rows()
    rows.add(ev, 0, "lookalike", "alice", 0)
    scores = evaluate.deployed_scores(load_weights(None), rows.arrays())
    assert scores[0] == np.inf and np.isfinite(scores[1])


def test_sent_folders_teach_no_address_an_mta_could_not_deliver():
    """The CMU Enron export made addresses up from Exchange names (s..ward@, .ward@): 3 % of its
    recipients; they stand for nobody the history could learn."""
    raw = (b"From: alice@enron.com\r\nTo: s..ward@enron.com, .ward@enron.com, ward.@enron.com, "
           b"john.smith@enron.com\r\nSubject: x\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nHi\r\n")
    sent = sent_message(StoredMessage("box", raw))
    assert [r.address for r in sent.recipients] == ["john.smith@enron.com"]
