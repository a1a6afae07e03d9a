"""Client matchers: the connecting IP, its reverse DNS name, the HELO, the SASL user.

    - client_ip: {in: [192.0.2.0/24, 2001:db8::/32]}
    - client_ip: {list: lists/blocked-networks.txt}
    - helo: {regex: '^\\[?[0-9.]+\\]?$'}
    - client_name_missing: true              # no reverse DNS
    - client_name: {regex: '(dsl|dynamic|pool)'}
    - authenticated: false
    - auth_user: {in: [newsletter]}
"""

from __future__ import annotations

from postwarden.rules.facts import Facts
from postwarden.rules.registry import flag_matcher, value_matcher

FAMILY = "client"


@value_matcher("client_ip", FAMILY, "ip", "The SMTP client's address (IPv4 or IPv6).", multi=False)
def _client_ip(facts: Facts) -> list[str]:
    return [facts.txn.client_ip] if facts.txn.client_ip else []


@value_matcher("helo", FAMILY, "text", "The HELO/EHLO name the client gave.", multi=False)
def _helo(facts: Facts) -> list[str]:
    return [facts.txn.helo] if facts.txn.helo else []


def _known_name(facts: Facts) -> str | None:
    name = (facts.txn.client_name or "").strip()
    if not name or name.lower() == "unknown" or name.startswith("["):
        return None  # Postfix says "unknown" (and libmilter "[ip]") when reverse DNS failed
    return name.lower().rstrip(".")


@value_matcher("client_name", FAMILY, "text", "The client's verified reverse DNS name, lower-cased.",
               multi=False)
def _client_name(facts: Facts) -> list[str]:
    name = _known_name(facts)
    return [name] if name else []


@flag_matcher("client_name_missing", FAMILY, "The client has no (verified) reverse DNS name.")
def _client_name_missing(facts: Facts) -> str | None:
    if facts.txn.client_ip is None:
        return None  # not known at all (a stored message without Received): nothing to say
    return facts.txn.client_ip if _known_name(facts) is None else None


@flag_matcher("authenticated", FAMILY, "The client authenticated (SMTP AUTH).")
def _authenticated(facts: Facts) -> str | None:
    return facts.txn.auth_user or None


@value_matcher("auth_user", FAMILY, "text", "The SASL user name of an authenticated client.",
               multi=False)
def _auth_user(facts: Facts) -> list[str]:
    return [facts.txn.auth_user] if facts.txn.auth_user else []
