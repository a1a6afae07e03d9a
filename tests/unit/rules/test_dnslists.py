"""DNS lists against a stub server on loopback: hits, TTL cache, budget, timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import pytest

from postwarden.rules.dns import DnsLists, reverse_ip
from postwarden.rules.facts import Budget
from tests.unit.rules.dnsstub import StubDns
from tests.unit.rules.helpers import evaluate, hit_ids, make, one_rule

LINKS = make(text="see http://www.spam.example/x and http://ok.example/ and http://192.0.2.5/")


@pytest.fixture
def stub() -> Iterator[StubDns]:
    server = StubDns(
        records={
            "2.0.0.127.bl.test": (["127.0.0.2"], 300),
            "3.0.0.127.bl.test": (["127.255.255.254"], 300),  # "query refused" code, not a listing
            "4.0.0.127.bl.test": (["127.0.0.4"], 1),
            "spam.example.uri.test": (["127.0.1.2"], 300),
            "5.2.0.192.uri.test": (["127.0.1.9"], 300),
        },
        silent={"slow.test"},
    )
    yield server
    server.close()


def lists(stub: StubDns, timeout: float = 0.5, budget: float = 1.0) -> DnsLists:
    return DnsLists(nameservers=["127.0.0.1"], port=stub.port, timeout=timeout, budget=budget)


def test_reverse_ip() -> None:
    assert reverse_ip("192.0.2.1") == "1.2.0.192"
    assert reverse_ip("::ffff:192.0.2.1") == "1.2.0.192"
    assert reverse_ip("2001:db8::1").startswith("1.0.0.0.") and reverse_ip("2001:db8::1").endswith(
        ".8.b.d.0.1.0.0.2"
    )
    assert reverse_ip("nonsense") is None


def test_dnsbl_hit_and_miss_and_refused_code(tmp_path: Path, stub: StubDns) -> None:
    check = one_rule(tmp_path, "dnsbl: {zone: bl.test}", dns=lists(stub))
    assert hit_ids(check, make(), client_ip="127.0.0.2") == ["T"]
    assert hit_ids(check, make(), client_ip="127.0.0.9") == []  # NXDOMAIN
    assert hit_ids(check, make(), client_ip="127.0.0.3") == []  # 127.255.255.254
    assert hit_ids(check, make()) == []  # no client IP: nothing to ask
    assert stub.queries == ["2.0.0.127.bl.test", "9.0.0.127.bl.test", "3.0.0.127.bl.test"]


def test_returns_selects_the_listing_codes(tmp_path: Path, stub: StubDns) -> None:
    check = one_rule(tmp_path, "dnsbl: {zone: bl.test, returns: [127.0.0.4]}", dns=lists(stub))
    assert hit_ids(check, make(), client_ip="127.0.0.2") == []
    assert hit_ids(check, make(), client_ip="127.0.0.4") == ["T"]


def test_answers_are_cached_for_their_ttl(tmp_path: Path, stub: StubDns) -> None:
    check = one_rule(tmp_path, "dnsbl: {zone: bl.test}", dns=lists(stub))
    for _ in range(3):
        assert hit_ids(check, make(), client_ip="127.0.0.2") == ["T"]
        assert hit_ids(check, make(), client_ip="127.0.0.9") == []  # negative: SOA minimum 300
    assert len(stub.queries) == 2
    assert hit_ids(check, make(), client_ip="127.0.0.4") == ["T"]  # TTL 1
    time.sleep(1.1)
    assert hit_ids(check, make(), client_ip="127.0.0.4") == ["T"]
    assert stub.queries.count("4.0.0.127.bl.test") == 2


def test_uribl_asks_registered_domains_and_reversed_ip_literals(tmp_path: Path, stub: StubDns) -> None:
    check = one_rule(tmp_path, "uribl: {zone: uri.test}", dns=lists(stub))
    hits = evaluate(check, LINKS)
    assert [h.id for h in hits] == ["T"] and "spam.example" in hits[0].detail
    assert stub.queries == ["spam.example.uri.test"]  # stops at the first listing
    only_ip = one_rule(tmp_path, "uribl: {zone: uri.test, returns: [127.0.1.9]}", dns=lists(stub))
    assert hit_ids(only_ip, LINKS) == ["T"]
    assert "5.2.0.192.uri.test" in stub.queries
    assert hit_ids(check, make(text="http://clean.example/")) == []


def test_a_timeout_is_a_non_hit_with_a_reason_and_the_budget_bounds_the_wait(
    tmp_path: Path, stub: StubDns
) -> None:
    many = make(text=" ".join(f"http://d{i}.example/" for i in range(10)))
    check = one_rule(
        tmp_path, "uribl: {zone: slow.test, max_domains: 10}", dns=lists(stub, timeout=0.2, budget=0.5)
    )
    started = time.perf_counter()
    hits = evaluate(check, many)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.9, elapsed  # 10 lookups of 0.2 s would be 2 s: the budget cut them
    assert [(h.id, h.kind, h.score) for h in hits] == [("DNS_TIMEOUT", "dns", 0.0)]
    assert "slow.test" in hits[0].detail
    assert 2 <= len(stub.queries) <= 4


def test_an_injected_resolver_is_used_and_its_failures_are_reported(tmp_path: Path) -> None:
    class Failing:
        calls = 0

        def resolve(self, qname: str, rdtype: str, lifetime: float, search: bool) -> object:
            Failing.calls += 1
            raise dns.exception.Timeout()

    check = one_rule(tmp_path, "dnsbl: {zone: bl.test}", dns=DnsLists(resolver=Failing()))
    hits = evaluate(check, make(), client_ip="192.0.2.1")
    assert [h.id for h in hits] == ["DNS_TIMEOUT"] and Failing.calls == 1


def test_a_spent_budget_sends_no_query(stub: StubDns) -> None:
    client = lists(stub)
    result = client.lookup("2.0.0.127.bl.test", Budget(0.0))
    assert result.addresses is None and result.timed_out and stub.queries == []


def test_without_dns_the_matchers_never_match(tmp_path: Path, stub: StubDns) -> None:
    check = one_rule(tmp_path, "dnsbl: {zone: bl.test}", dns=None)
    assert evaluate(check, make(), client_ip="127.0.0.2") == [] and stub.queries == []
