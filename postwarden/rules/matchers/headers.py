"""Header matchers: any header by name, Subject, and the From / Reply-To / Sender addresses.

Header values are the decoded ones (RFC 2047 words read, folding undone). ``header`` looks at
every occurrence of the name: with ``mode: any`` (the default) one matching occurrence is
enough, with ``mode: all`` every occurrence must match.

    - header: {name: Message-ID, exists: false}
    - header: {name: X-Mailer, regex: '^PHPMailer'}
    - header_count: {name: From, min: 2}
    - subject: {contains: invoice}
    - from_domain: {list: lists/freemail.txt}
    - reply_to_address: {equals: payroll@example.com}
    - from_name: {regex: 'paypal'}
    - from_name_spoofs_address: true
"""

from __future__ import annotations

import re

import yaml

from postwarden.message import Address
from postwarden.rules.build import TEST_KEYS, Builder
from postwarden.rules.facts import Facts
from postwarden.rules.regex import compile_regex
from postwarden.rules.registry import (
    Matcher,
    Predicate,
    detail,
    flag_matcher,
    register,
    value_matcher,
    values_predicate,
)

FAMILY = "headers"
# RE2, like every pattern run over message content: with a backtracking engine this one is
# quadratic on "aaaa...@bbbb..." (seconds for a From header of 16 KB).
_ADDRESS_IN_TEXT = compile_regex(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")[0]

_HEADER_OPTIONS = ("name", "exists", *TEST_KEYS["text"], "mode")


def _header_name(b: Builder, opts: dict[str, yaml.Node], node: yaml.Node, key: str,
                 matcher: str) -> str | None:
    if "name" not in opts:
        b.problem(node, key, f"matcher {matcher} needs a name (the header field name)")
        return None
    name = b.string(opts.pop("name"), f"{key}.name")
    if name is not None and not re.fullmatch(r"[!-9;-~]+", name):
        b.problem(node, f"{key}.name", f"expected a header field name such as X-Mailer, got {name!r}")
        return None
    return name


def _build_header(b: Builder, node: yaml.Node, key: str) -> Predicate | None:
    opts = b.options(node, key, "header", _HEADER_OPTIONS)
    if opts is None:
        return None
    name = _header_name(b, opts, node, key, "header")
    if name is None:
        return None
    label = f"header[{name}]"
    if "exists" in opts:
        if len(opts) > 1:
            b.problem(opts["exists"], f"{key}.exists", "exists cannot be combined with a text test "
                                                       "or mode; write two conditions")
            return None
        wanted = b.boolean(opts["exists"], f"{key}.exists")
        if wanted is None:
            return None

        def exists(facts: Facts) -> str | None:
            present = bool(facts.header(name))
            return (f"{label} present" if present else f"{label} missing") if present == wanted else None
        return exists
    mode = b.mode(opts, key)
    if mode is None:
        return None
    test = b.value_test("text", opts, key, "header", node)
    if test is None:
        return None
    return values_predicate(label, lambda facts: facts.header(name), test, mode,
                            source=f"header[{name.lower()}]")


register(Matcher("header", FAMILY, "text", _HEADER_OPTIONS,
                 "Every occurrence of the header `name` (decoded); `exists: true/false`, or a text "
                 "test over the occurrences (mode any/all).", _build_header))


def _build_header_count(b: Builder, node: yaml.Node, key: str) -> Predicate | None:
    opts = b.options(node, key, "header_count", ("name", "min", "max"))
    if opts is None:
        return None
    name = _header_name(b, opts, node, key, "header_count")
    if name is None:
        return None
    test = b.value_test("number", opts, key, "header_count", node)
    if test is None:
        return None

    def count(facts: Facts) -> str | None:
        n = len(facts.header(name))
        return detail(f"header_count[{name}]", n) if test(n) else None
    return count


register(Matcher("header_count", FAMILY, "number", ("name", "min", "max"),
                 "How many times the header `name` occurs (min and/or max, inclusive).",
                 _build_header_count))


@value_matcher("subject", FAMILY, "text", "The decoded Subject (empty when there is none).", multi=False)
def _subject(facts: Facts) -> list[str]:
    return [facts.message.subject]


def _address_matchers(field: str, title: str) -> None:
    def addresses(facts: Facts) -> list[Address]:
        return getattr(facts.message, field)

    value_matcher(f"{field.rstrip('_')}_address", FAMILY, "address",
                  f"The address(es) in {title}, lower-cased.")(
        lambda facts: [a.address.lower() for a in addresses(facts) if a.address])
    value_matcher(f"{field.rstrip('_')}_domain", FAMILY, "domain",
                  f"The domain(s) of the address(es) in {title}; in/list match subdomains.")(
        lambda facts: [a.domain for a in addresses(facts) if a.domain])
    value_matcher(f"{field.rstrip('_')}_name", FAMILY, "text",
                  f"The display name(s) in {title}.")(
        lambda facts: [a.name for a in addresses(facts) if a.name])


_address_matchers("from_", "From")
_address_matchers("reply_to", "Reply-To")
_address_matchers("sender", "Sender")


@flag_matcher("from_name_spoofs_address", FAMILY,
              "The From display name shows an address other than the real one "
              "(\"ceo@example.com\" <x@evil.example>).")
def _name_spoofs(facts: Facts) -> str | None:
    for address in facts.message.from_:
        for shown in _ADDRESS_IN_TEXT.findall(address.name):
            if shown.lower() != address.address.lower():
                return f"{shown} <{address.address}>"
    return None
