"""Authentication matchers: the SPF, DKIM and DMARC results an earlier filter wrote down.

    - auth_result: {method: dmarc, result: fail}
    - auth_result: {method: dmarc, result: fail, policy: [reject, quarantine]}
    - auth_result: {method: spf, result: [fail, softfail]}
    - auth_result: {method: dkim, result: pass, domain: {in: [bank.example]}}
    - auth_result: {method: dkim, result: pass, domain: {local: true}}

Only Authentication-Results headers whose authserv-id is listed in ``trusted_authserv_ids``
(postwarden.yaml) are read; with none listed, these matchers never match. ``method`` and
``result`` take one keyword or a list; ``policy`` (DMARC only) the policy the domain asked for,
as the checker reported it; ``domain`` the domain test of the result's domain (DMARC's
header.from, DKIM's d=, SPF's envelope sender). Any one trusted result that fits is a match.
A forged header can add results but never remove the checker's own, so rules that score
failures cannot be talked down by a sender. A rule that rewards a ``pass`` also needs the
sender's own headers under your authserv-id dropped on arrival (the README's header_checks
line), or a sender can claim the pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from postwarden.authresults import POLICIES, RESULTS, AuthResult, trusted_results
from postwarden.rules.build import TEST_KEYS, Builder
from postwarden.rules.facts import Facts
from postwarden.rules.registry import Matcher, Predicate, detail, register

FAMILY = "authentication"
NAME = "auth_result"
_METHOD = re.compile(r"[a-z0-9][a-z0-9_-]*")


def results(facts: Facts, trusted_ids: frozenset[str]) -> list[AuthResult]:
    """The message's trusted results, parsed once for every rule that asks."""
    return facts.memo(("auth_results", trusted_ids),
                      lambda: trusted_results(facts.header("Authentication-Results"), trusted_ids))


def _keywords(b: Builder, node: yaml.Node, key: str, allowed: frozenset[str] | tuple[str, ...] | None
              ) -> frozenset[str] | None:
    """One keyword or a list of them, lower case; ``allowed`` (if given) names the valid ones."""
    values = b.strings(node, key) if isinstance(node, yaml.SequenceNode) else [b.string(node, key)]
    if values is None or None in values:
        return None
    out = set()
    for value in values:
        word = str(value).strip().lower()
        if allowed is not None and word not in allowed:
            b.problem(node, key, f"expected one of {', '.join(sorted(allowed))}, got {value!r}")
            return None
        if allowed is None and not _METHOD.fullmatch(word):
            b.problem(node, key, f"expected a method name such as spf, dkim or dmarc, got {value!r}")
            return None
        out.add(word)
    if not out:
        b.problem(node, key, "expected at least one value")
        return None
    return frozenset(out)


def _build(b: Builder, node: yaml.Node, key: str) -> Predicate | None:
    opts = b.options(node, key, NAME, ("method", "result", "policy", "domain"))
    if opts is None:
        return None
    for required in ("method", "result"):
        if required not in opts:
            b.problem(node, key, f"matcher {NAME} needs {required} (for example method: dmarc, result: fail)")
            return None
    methods = _keywords(b, opts["method"], f"{key}.method", None)
    outcomes = _keywords(b, opts["result"], f"{key}.result", RESULTS)
    if methods is None or outcomes is None:
        return None
    tests: list[Callable[[AuthResult], bool]] = []
    if "policy" in opts:
        if methods != {"dmarc"}:
            b.problem(opts["policy"], f"{key}.policy", "policy applies to method: dmarc only")
            return None
        policies = _keywords(b, opts["policy"], f"{key}.policy", POLICIES)
        if policies is None:
            return None
        tests.append(lambda r: r.policy in policies)
    if "domain" in opts:
        sub = f"{key}.domain"
        domain_opts = b.options(opts["domain"], sub, f"{NAME}.domain", TEST_KEYS["domain"])
        if domain_opts is None:
            return None
        domain_test = b.value_test("domain", domain_opts, sub, f"{NAME}.domain", opts["domain"])
        if domain_test is None:
            return None
        tests.append(lambda r: bool(r.domain) and domain_test(r.domain))
    trusted = b.env.trusted_authserv_ids

    def predicate(facts: Facts) -> str | None:
        if not trusted:
            return None
        for r in results(facts, trusted):
            if r.method in methods and r.result in outcomes and all(t(r) for t in tests):
                return detail(NAME, r.describe())
        return None
    return predicate


register(Matcher(
    NAME, FAMILY, "authentication", ("method", "result", "policy", "domain"),
    "An SPF, DKIM, DMARC (or other) result in an Authentication-Results header from a trusted "
    "authserv-id (trusted_authserv_ids): method and result, optionally the DMARC policy and a "
    "domain test of the domain the result is about.",
    _build,
))
