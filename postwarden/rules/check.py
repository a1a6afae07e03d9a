"""The rules as an engine Check: evaluate every enabled rule in order, hits become Hits.

Rules are evaluated in load order and all of them run (an allowlist rule does not stop the
others, so `scan --explain` and the reasons show everything that matched). A rule whose
predicate raises is skipped with a RULE_ERROR reason instead of failing the whole message:
one bad rule must not turn every decision into an on_error tempfail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from postwarden.authresults import authserv_ids
from postwarden.config import Config, ConfigError
from postwarden.context import INBOUND, OUTBOUND, Hit, ScanContext
from postwarden.rules.build import Env
from postwarden.rules.counters import RULE_HITS, HitCounter
from postwarden.rules.dns import DnsLists
from postwarden.rules.facts import Facts
from postwarden.rules.loader import RulesError, load_rules
from postwarden.rules.model import Rule, RuleSet
from postwarden.rules.pack import default_rules_dir
from postwarden.rules.regex import begin_message, end_message
from postwarden.rules.registry import Prefilter

log = logging.getLogger("postwarden.rules")
GTUBE_TAG = "gtube"


class RulesCheck:
    name = "rules"

    def __init__(self, ruleset: RuleSet, dns: DnsLists | None = None, counter: HitCounter = RULE_HITS,
                 skip_tags: frozenset[str] = frozenset()):
        self.ruleset = ruleset
        self.dns = dns
        self.counter = counter
        self.rules: list[Rule] = [r for r in ruleset.enabled if not skip_tags.intersection(r.tags)]
        self.by_id = {r.id: r for r in ruleset.rules}
        self._plans = {d: self._plan(d) for d in (INBOUND, OUTBOUND)}

    def _plan(self, direction: str) -> list[tuple[Rule, Prefilter | None]]:
        """The rules for a direction, each with the prefilter its condition allows (if any)."""
        return [(r, getattr(r.predicate, "prefilter", None)) for r in self.rules if r.applies_to(direction)]

    def defines(self, rule_id: str) -> bool:
        return any(r.id == rule_id for r in self.rules)

    def evaluate(self, ctx: ScanContext) -> Iterator[Hit]:
        begin_message()
        try:
            yield from self._evaluate(ctx)
        finally:
            end_message()

    def _evaluate(self, ctx: ScanContext) -> Iterator[Hit]:
        facts = Facts(ctx, self.dns)
        plan = self._plans.get(ctx.direction) or self._plan(ctx.direction)
        seen: dict[str, frozenset[int] | None] = {}  # per value source: Set indices that matched
        for rule, prefilter in plan:
            try:
                if prefilter is not None and not _may_match(prefilter, facts, seen):
                    continue
                found = rule.predicate(facts)
            except Exception as exc:
                log.exception("rule %s (%s) failed", rule.id, rule.where)
                yield Hit(id="RULE_ERROR", detail=f"{rule.id}: {type(exc).__name__}: {exc}"[:200],
                          kind="rule")
                continue
            if found is None:
                continue
            self.counter.add(rule.id)
            yield Hit(id=rule.id, score=rule.score, action=rule.action, reply=rule.reply,
                      detail=found, kind="rule", shadow=rule.shadow)
        for reason_id, detail in facts.dns_problems:
            yield Hit(id=reason_id, detail=detail, kind="dns")


def _may_match(prefilter: Prefilter, facts: Facts, seen: dict[str, frozenset[int] | None]) -> bool:
    """Whether the rule's required regex matched any value of its source (exact, not a guess).

    The first rule over a source runs the bank's Set over all of the source's values once;
    every later rule over it is one set lookup. A Set that could not answer (None) lets every
    rule through to its own search.
    """
    if prefilter.source not in seen:
        union: set[int] | None = set()
        for value in prefilter.extract(facts):
            found = prefilter.regex.bank.scan(value)[2]
            if found is None:
                union = None
                break
            union |= found  # type: ignore[operator]
        seen[prefilter.source] = frozenset(union) if union is not None else None
    matched = seen[prefilter.source]
    return matched is None or prefilter.regex.index in matched


def rules_directories(config: Config) -> list[Path]:
    settings = config.rules
    directories = [Path(settings.directory) if settings.directory else default_rules_dir()]
    if settings.local_directory:
        directories.append(Path(settings.local_directory))
    return directories


def dns_lists(config: Config) -> DnsLists | None:
    settings = config.rules.dns
    if not settings.enabled:
        return None
    return DnsLists(nameservers=settings.nameservers, port=settings.port, timeout=settings.timeout,
                    budget=settings.budget, cache_entries=settings.cache_entries)


def load_configured_rules(config: Config, directories: list[Path] | None = None,
                          dns: DnsLists | None = None) -> RuleSet:
    env = Env(local_domains=frozenset(d.lower() for d in config.local_domains), dns=dns,
              trusted_authserv_ids=authserv_ids(config.trusted_authserv_ids))
    return load_rules(directories or rules_directories(config), env)


def build_rules_check(config: Config, dns: DnsLists | None = None) -> RulesCheck:
    """The rules check for a config; rule problems raise ConfigError (a reload keeps the old)."""
    dns = dns if dns is not None else dns_lists(config)
    try:
        ruleset = load_configured_rules(config, dns=dns)
    except RulesError as exc:
        raise ConfigError(f"rules refused:\n{exc}") from None
    skip = frozenset() if config.gtube.enabled else frozenset({GTUBE_TAG})
    return RulesCheck(ruleset, dns=dns, skip_tags=skip)
