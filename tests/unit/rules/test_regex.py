"""Regexes run in linear time: a pathological pattern cannot stall a message."""

from __future__ import annotations

import time
from pathlib import Path

from postwarden.rules.regex import compile_regex
from tests.unit.rules.helpers import hit_ids, make, one_rule


def test_nested_quantifier_against_a_long_run_finishes_fast(tmp_path: Path) -> None:
    # With a backtracking engine (Python's re) this pattern takes exponential time: 30 a's and
    # a b already take minutes. RE2 answers in time linear in the body.
    check = one_rule(tmp_path, "body_text: {regex: '(a+)+$'}")
    raw = make(text="a" * 200_000 + "b")
    started = time.perf_counter()
    assert hit_ids(check, raw) == []
    assert time.perf_counter() - started < 1.0
    assert hit_ids(check, make(text="a" * 200_000)) == ["T"]


def test_the_time_grows_linearly_not_exponentially(tmp_path: Path) -> None:
    regex, _ = compile_regex("(a|aa)*$|(x+x+)+y")
    timings = []
    for n in (50_000, 400_000):
        text = "a" * n + "b" + "x" * n
        started = time.perf_counter()
        regex.search(text)
        timings.append(time.perf_counter() - started)
    assert timings[1] < max(timings[0], 0.002) * 40  # 8x the input: far from 2**n


def test_patterns_that_need_backtracking_are_refused_at_load() -> None:
    for pattern in (r"(a)\1", r"(?=a)", r"(?<!a)b"):
        regex, error = compile_regex(pattern)
        assert regex is None and error


def test_case_is_ignored_unless_asked() -> None:
    folded, _ = compile_regex("invoice")
    exact, _ = compile_regex("invoice", case_sensitive=True)
    assert folded.search("INVOICE") and not exact.search("INVOICE")


def test_the_pack_stays_linear_on_hostile_display_names_and_link_texts() -> None:
    # With backtracking regexes, "aaaa...@bbbb..." in a display name took seconds (quadratic).
    from postwarden.config import Config
    from postwarden.rules.check import build_rules_check

    pack = build_rules_check(Config())
    hostile = "a" * 8000 + "@" + "b" * 8000
    raw = make({"From": f'"{hostile}" <x@evil.example>', "Subject": hostile},
               text=None, html=f'<a href="http://evil.example/">{"a." * 8000}!{hostile}</a>')
    started = time.perf_counter()
    hit_ids(pack, raw)
    assert time.perf_counter() - started < 1.0
