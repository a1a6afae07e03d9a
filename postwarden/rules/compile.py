"""Conditions: ``all``, ``any`` and ``not`` over matchers, compiled into one predicate per rule.

A condition is a mapping. Its keys are ``all`` (a list of conditions that must all hold),
``any`` (a list of which one must hold), ``not`` (a condition that must not hold) or a matcher
name with the matcher's options. Several keys in one mapping must all hold, in the order
written, and evaluation stops at the first that fails, so put cheap tests first and DNS lists
last.

    match:
      all:
        - reply_to_domain: {list: lists/freemail.txt}
        - not:
            from_domain: {list: lists/freemail.txt}
"""

from __future__ import annotations

import difflib

import yaml

from postwarden.rules import registry
from postwarden.rules.build import Builder, describe
from postwarden.rules.facts import Facts
from postwarden.rules.registry import Predicate

COMBINATORS = ("all", "any", "not")
MAX_DEPTH = 20


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def every(facts: Facts) -> str | None:
        details = []
        for part in parts:
            found = part(facts)
            if found is None:
                return None
            details.append(found)
        return "; ".join(details)
    # Every part must hold, so any part's prefilter is the whole condition's.
    prefilter = next((p.prefilter for p in parts if hasattr(p, "prefilter")), None)
    if prefilter is not None:
        every.prefilter = prefilter  # type: ignore[attr-defined]
    return every


def _any(parts: list[Predicate]) -> Predicate:
    def some(facts: Facts) -> str | None:
        for part in parts:
            found = part(facts)
            if found is not None:
                return found
        return None
    return some


def _not(part: Predicate, label: str) -> Predicate:
    return lambda facts: f"not({label})" if part(facts) is None else None


def _condition_list(b: Builder, node: yaml.Node, key: str, depth: int) -> list[Predicate] | None:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        b.problem(node, key, f"expected a non-empty list of conditions, got {describe(node)}")
        return None
    parts = [compile_condition(b, item, f"{key}[{i}]", depth + 1) for i, item in enumerate(node.value)]
    return None if any(p is None for p in parts) else parts  # type: ignore[return-value]


def _unknown_matcher(name: str) -> str:
    known = [*COMBINATORS, *(m.name for m in registry.all_matchers())]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown matcher {name!r}{hint} (postwarden check-rules --matchers lists them)"


def compile_condition(b: Builder, node: yaml.Node, key: str, depth: int = 0) -> Predicate | None:
    """One predicate for a condition node, or None after recording its problems."""
    if depth > MAX_DEPTH:
        b.problem(node, key, f"conditions nested deeper than {MAX_DEPTH}")
        return None
    entries = b.mapping(node, key)
    if entries is None:
        return None
    if not entries:
        b.problem(node, key, "expected a condition (all, any, not or a matcher), got an empty mapping")
        return None
    parts: list[Predicate] = []
    good = True
    for name, value in entries.items():
        sub = f"{key}.{name}"
        part: Predicate | None
        if name == "all":
            found = _condition_list(b, value, sub, depth)
            part = _all(found) if found else None
        elif name == "any":
            found = _condition_list(b, value, sub, depth)
            part = _any(found) if found else None
        elif name == "not":
            inner = compile_condition(b, value, sub, depth + 1)
            part = _not(inner, _label(value)) if inner else None
        else:
            matcher = registry.lookup(name)
            if matcher is None:
                b.problem(b.key_node(node, name), sub, _unknown_matcher(name))
                part = None
            else:
                part = matcher.build(b, value, sub)
        if part is None:
            good = False
        else:
            parts.append(part)
    return _all(parts) if good else None


def _label(node: yaml.Node) -> str:
    """A short name for a negated condition in hit details."""
    if isinstance(node, yaml.MappingNode) and node.value:
        return ",".join(str(k.value) for k, _ in node.value)
    return "condition"
