"""The matchers a rule condition may name, one module per family, registered explicitly.

A matcher declares its contract as data (name, family, the kind of value it tests, its options
and a doc string, which is the operator's documentation: `postwarden check-rules --matchers`
prints it) and a ``build`` that turns validated options into a predicate. A predicate takes
the message's Facts and returns a short text saying what matched, or None.

Most matchers extract values of one kind and test them with the kind's tests (see
``build.TEST_KEYS``); ``value_matcher`` and ``flag_matcher`` make those from an extractor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from postwarden.rules.build import TEST_KEYS, Builder
from postwarden.rules.domains import DomainList
from postwarden.rules.facts import Facts
from postwarden.rules.regex import BankedRegex

Predicate = Callable[[Facts], str | None]
BuildFn = Callable[[Builder, yaml.Node, str], Predicate | None]
DETAIL_CHARS = 80


@dataclass(frozen=True)
class Matcher:
    name: str
    family: str
    kind: str
    options: tuple[str, ...]
    doc: str
    build: BuildFn


MATCHERS: dict[str, Matcher] = {}


def register(matcher: Matcher) -> Matcher:
    if matcher.name in MATCHERS:
        raise ValueError(f"matcher {matcher.name} registered twice")
    MATCHERS[matcher.name] = matcher
    return matcher


def detail(name: str, value: Any) -> str:
    text = str(value)
    if len(text) > DETAIL_CHARS:
        text = text[:DETAIL_CHARS - 3] + "..."
    return f"{name}={text}"


@dataclass(frozen=True)
class Prefilter:
    """A regex a predicate cannot match without: the rule check skips the rule when the bank's
    one Set pass over ``source`` (the values ``extract`` gives) did not report ``regex``."""

    source: str
    extract: Callable[[Facts], Iterable[Any]]
    regex: BankedRegex


def _shown(regex: BankedRegex | None, value: Any) -> Any:
    """What a hit shows of a value: the matched text for a regex test, not the whole value (a
    body's first 80 characters say nothing about why it hit, and reasons end up in logs)."""
    if regex is not None:
        found = regex.regex.search(value)
        if found is not None:
            return found.group(0)
    return value


def values_predicate(name: str, extract: Callable[[Facts], Iterable[Any]], test: Callable[[Any], bool],
                     mode: str, source: str | None = None) -> Predicate:
    """Any (default) or all of the extracted values must pass; no values never match.

    ``source`` names what ``extract`` returns (the same for every rule that uses it), so rules
    over it can share one prefilter pass; it defaults to the matcher name.
    """
    regex = getattr(test, "__self__", None)
    if not isinstance(regex, BankedRegex):
        regex = None
    if mode == "all":
        def every(facts: Facts) -> str | None:
            values = list(extract(facts))
            if values and all(test(v) for v in values):
                return detail(name, _shown(regex, values[0]))
            return None
        return every

    if isinstance(test, DomainList):
        def some_domain(facts: Facts) -> str | None:
            if not test.any_of(facts.suffixes_of(extract)):
                return None  # no value can match: skip the per-value loop
            return next((detail(name, v) for v in extract(facts) if test(v)), None)
        return some_domain

    def some(facts: Facts) -> str | None:
        for value in extract(facts):
            if test(value):
                return detail(name, _shown(regex, value))
        return None
    if regex is not None:
        some.prefilter = Prefilter(source or name, extract, regex)  # type: ignore[attr-defined]
    return some


def value_matcher(name: str, family: str, kind: str, doc: str, multi: bool = True
                  ) -> Callable[[Callable[[Facts], Iterable[Any]]], Callable[[Facts], Iterable[Any]]]:
    """Register a matcher that tests the values ``extract`` returns with ``kind``'s tests."""
    options = TEST_KEYS[kind] + (("mode",) if multi else ())

    def decorate(extract: Callable[[Facts], Iterable[Any]]) -> Callable[[Facts], Iterable[Any]]:
        def build(b: Builder, node: yaml.Node, key: str) -> Predicate | None:
            opts = b.options(node, key, name, options)
            if opts is None:
                return None
            mode = b.mode(opts, key)
            if mode is None:
                return None
            test = b.value_test(kind, opts, key, name, node)
            return None if test is None else values_predicate(name, shared, test, mode)

        def shared(facts: Facts) -> list[Any]:
            return facts.values(extract)  # one extraction per message for all of its rules

        register(Matcher(name, family, kind, options, doc, build))
        return extract
    return decorate


def flag_matcher(name: str, family: str, doc: str
                 ) -> Callable[[Callable[[Facts], str | None]], Callable[[Facts], str | None]]:
    """Register a matcher written ``name: true`` (or ``false``); ``find`` returns what it found."""
    def decorate(find: Callable[[Facts], str | None]) -> Callable[[Facts], str | None]:
        def build(b: Builder, node: yaml.Node, key: str) -> Predicate | None:
            wanted = b.boolean(node, key)
            if wanted is None:
                return None
            if wanted:
                return lambda facts: (None if (found := find(facts)) is None else detail(name, found))
            return lambda facts: f"not {name}" if find(facts) is None else None

        register(Matcher(name, family, "flag", ("true", "false"), doc, build))
        return find
    return decorate


def lookup(name: str) -> Matcher | None:
    _load_families()
    return MATCHERS.get(name)


def all_matchers() -> list[Matcher]:
    _load_families()
    return sorted(MATCHERS.values(), key=lambda m: (m.family, m.name))


_loaded = False


def _load_families() -> None:
    """Import every family module once; each registers its matchers on import."""
    global _loaded
    if _loaded:
        return
    from postwarden.rules.matchers import (  # noqa: F401
        attachments,
        authentication,
        body,
        calendar,
        client,
        dnslists,
        envelope,
        headers,
        urls,
    )
    _loaded = True
