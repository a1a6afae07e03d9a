"""DNS list matchers: the client IP in a DNSBL zone, link domains in a URIBL zone.

    - dnsbl: {zone: zen.spamhaus.org, returns: [127.0.0.2/31, 127.0.0.4/30, 127.0.0.9]}
    - uribl: {zone: dbl.spamhaus.org, returns: [127.0.1.0/24], max_domains: 10}

Without ``returns``, any answer in 127.0.0.0/8 is a listing except 127.255.255.0/24, which
list operators use to say "query refused" (for example to a public resolver). Lookups share
the message's DNS budget (``rules.dns`` in postwarden.yaml); a timeout is a non-hit reported as
``DNS_TIMEOUT``. Put a DNS condition last in an ``all``: it is only asked when the conditions
before it held. With ``rules.dns.enabled: false`` these matchers never match.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import yaml

from postwarden.rules.build import Builder
from postwarden.rules.dns import reverse_ip
from postwarden.rules.domains import is_domain, is_ip_literal
from postwarden.rules.facts import Facts
from postwarden.rules.lists import NetworkIndex
from postwarden.rules.registry import Matcher, Predicate, register

FAMILY = "dnslists"
_DEFAULT_LISTED = NetworkIndex([ipaddress.ip_network("127.0.0.0/8")])
_REFUSED = NetworkIndex([ipaddress.ip_network("127.255.255.0/24")])


def _listed_test(b: Builder, opts: dict[str, yaml.Node], key: str) -> Callable[[str], bool] | None:
    if "returns" not in opts:
        return lambda a: a in _DEFAULT_LISTED and a not in _REFUSED
    index = b.inline_list(opts["returns"], f"{key}.returns", "ip")
    return None if index is None else (lambda a: a in index)


def _zone(b: Builder, opts: dict[str, yaml.Node], node: yaml.Node, key: str, matcher: str) -> str | None:
    if "zone" not in opts:
        b.problem(node, key, f"matcher {matcher} needs a zone (such as zen.spamhaus.org)")
        return None
    zone = b.string(opts["zone"], f"{key}.zone")
    if zone is not None and not is_domain(zone.rstrip(".")):
        b.problem(opts["zone"], f"{key}.zone", f"expected a DNS zone such as zen.spamhaus.org, got {zone!r}")
        return None
    return zone.lower().rstrip(".") if zone else None


def _ask(facts: Facts, name: str, zone: str, listed: Callable[[str], bool]) -> str | None:
    """Query ``name.zone``; return the listing address, or None (failures noted on facts)."""
    lists = facts.dns
    if lists is None:
        return None
    result = lists.lookup(f"{name}.{zone}", facts.budget(lists.budget_seconds))
    if result.addresses is None:
        if not any(d.startswith(f"{zone}: ") for _, d in facts.dns_problems):  # one per zone
            facts.dns_problems.append(("DNS_TIMEOUT" if result.timed_out else "DNS_ERROR",
                                       f"{zone}: {result.error}"))
        return None
    return next((a for a in result.addresses if listed(a)), None)


def _build_dnsbl(b: Builder, node: yaml.Node, key: str) -> Predicate | None:
    opts = b.options(node, key, "dnsbl", ("zone", "returns"))
    if opts is None:
        return None
    zone = _zone(b, opts, node, key, "dnsbl")
    listed = _listed_test(b, opts, key)
    if zone is None or listed is None:
        return None

    def dnsbl(facts: Facts) -> str | None:
        reversed_ip = reverse_ip(facts.txn.client_ip or "")
        if reversed_ip is None:
            return None
        found = _ask(facts, reversed_ip, zone, listed)
        return f"dnsbl[{zone}]={facts.txn.client_ip}:{found}" if found else None
    return dnsbl


def _build_uribl(b: Builder, node: yaml.Node, key: str) -> Predicate | None:
    opts = b.options(node, key, "uribl", ("zone", "returns", "max_domains"))
    if opts is None:
        return None
    zone = _zone(b, opts, node, key, "uribl")
    listed = _listed_test(b, opts, key)
    limit = 10.0
    if "max_domains" in opts:
        value = b.number(opts["max_domains"], f"{key}.max_domains")
        if value is None or value < 1:
            if value is not None:
                b.problem(opts["max_domains"], f"{key}.max_domains", f"expected at least 1, got {value:g}")
            return None
        limit = value
    if zone is None or listed is None:
        return None

    def uribl(facts: Facts) -> str | None:
        for domain in facts.url_domains[:int(limit)]:
            name = reverse_ip(domain) if is_ip_literal(domain) else domain
            if name is None:
                continue
            found = _ask(facts, name, zone, listed)
            if found:
                return f"uribl[{zone}]={domain}:{found}"
        return None
    return uribl


register(Matcher("dnsbl", FAMILY, "dns", ("zone", "returns"),
                 "The client IP is listed in the DNSBL `zone` (answers in `returns`, default "
                 "127.0.0.0/8 without 127.255.255.0/24).", _build_dnsbl))
register(Matcher("uribl", FAMILY, "dns", ("zone", "returns", "max_domains"),
                 "A link's registered domain (or IP) is listed in the URIBL `zone`; at most "
                 "`max_domains` (default 10) are asked per message.", _build_uribl))
