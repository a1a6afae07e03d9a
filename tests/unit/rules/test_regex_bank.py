"""Many regex rules share one RE2::Set pass; the hits must be exactly those of one search each."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postwarden.rules.build import Env
from postwarden.rules.check import RulesCheck
from postwarden.rules.counters import HitCounter
from postwarden.rules.facts import normalise_text
from postwarden.rules.loader import load_rules
from postwarden.rules.regex import SET_THRESHOLD, compile_regex
from tests.unit.rules.helpers import hit_ids, make

BODY = ["ab+c", "^a", "c$", "(a|b){3}", "\\bcab\\b", "a.c", "[^abc ]", "b c", "^$", "(?s)a.*c", "cc+", "ba?c"]
SUBJECT = ["^b", "a{2,}", "ca", "b$", "abc", "(?-i)A"]
SENSITIVE = ["A", "Bc"]


def _rules() -> str:
    out = ["rules:"]
    for i, pattern in enumerate(BODY):
        out += [
            f"  - id: B{i}",
            "    description: d",
            "    score: 1",
            f"    match: {{body_text: {{regex: '{pattern}'}}}}",
        ]
    for i, pattern in enumerate(SUBJECT):
        out += [
            f"  - id: S{i}",
            "    description: d",
            "    score: 1",
            f"    match: {{all: [{{subject: {{regex: '{pattern}'}}}},",
            "                   {not: {body_text: {contains: zz}}}]}",
        ]
    for i, pattern in enumerate(SENSITIVE):
        out += [
            f"  - id: C{i}",
            "    description: d",
            "    score: 1",
            f"    match: {{subject: {{contains: '{pattern}', case_sensitive: true}}}}",
        ]
    return "\n".join(out) + "\n"


def _expected(subject: str, body: str) -> list[str]:
    text = normalise_text(body)
    hits = [f"B{i}" for i, p in enumerate(BODY) if compile_regex(p)[0].search(text)]
    if "zz" not in text.lower():
        hits += [f"S{i}" for i, p in enumerate(SUBJECT) if compile_regex(p)[0].search(subject)]
    hits += [f"C{i}" for i, p in enumerate(SENSITIVE) if p in subject]
    return sorted(hits)


@pytest.fixture(scope="module")
def check(tmp_path_factory: pytest.TempPathFactory) -> RulesCheck:
    directory = tmp_path_factory.mktemp("bank")
    (directory / "10-bank.yaml").write_text(_rules())
    check = RulesCheck(load_rules([directory], Env()), counter=HitCounter())
    assert len(check.rules) >= SET_THRESHOLD
    regex = next(p for _, p in check._plans["inbound"] if p is not None).regex
    assert regex.bank._set is not None  # the Set path is what is under test
    return check


_text = st.text(alphabet="abcABC z\n", max_size=30)


@settings(max_examples=100, deadline=None)
@given(subject=_text.filter(lambda s: "\n" not in s and s.strip() == s and "  " not in s), body=_text)
def test_set_and_prefilter_give_the_hits_of_single_searches(
    check: RulesCheck, subject: str, body: str
) -> None:
    raw = make({"Subject": subject or "x"}, text=body or " ")
    expected = _expected(subject or "x", body or " ")
    assert sorted(hit_ids(check, raw)) == expected


def test_a_set_that_cannot_answer_falls_back_to_single_searches(
    check: RulesCheck, monkeypatch: pytest.MonkeyPatch
) -> None:
    regex = next(p for _, p in check._plans["inbound"] if p is not None).regex

    class OutOfMemory:
        def Match(self, text: str) -> None:  # what RE2::Set answers when its DFA gives up
            return None

    monkeypatch.setattr(regex.bank, "_set", OutOfMemory())
    raw = make({"Subject": "bca"}, text="ab cab")
    assert sorted(hit_ids(check, raw)) == _expected("bca", "ab cab") != []


def test_the_set_is_used_only_from_a_threshold(tmp_path: Path) -> None:
    (tmp_path / "10-few.yaml").write_text(
        "rules:\n  - id: A\n    description: d\n    score: 1\n    match: {body: {regex: 'x+'}}\n"
    )
    check = RulesCheck(load_rules([tmp_path], Env()), counter=HitCounter())
    ((_, prefilter),) = check._plans["inbound"]
    assert prefilter is not None and prefilter.regex.bank._set is None
    assert hit_ids(check, make(text="axxb")) == ["A"] and hit_ids(check, make(text="ab")) == []
