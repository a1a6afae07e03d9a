"""Authentication-Results parsing (RFC 8601), as the auth_result rules read it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from postwarden.authresults import MAX_CHARS, parse, trusted_results


def test_every_result_with_its_properties_and_comments() -> None:
    value = ('mx.example.net 1; spf = pass (sender IP is 192.0.2.7) smtp.mailfrom = "odd user"@Shop.Example;'
             '\r\n\tdkim/1=pass (2048-bit key; unprotected) header.d=shop.example header.b="Ab/+d=";'
             ' dmarc=pass (p=quarantine dis=none) header.from=Shop.Example')
    results = parse(value)
    assert [(r.authserv_id, r.method, r.result, r.domain) for r in results] == [
        ("mx.example.net", "spf", "pass", "shop.example"),
        ("mx.example.net", "dkim", "pass", "shop.example"),
        ("mx.example.net", "dmarc", "pass", "shop.example"),
    ]
    assert results[1].properties["header.b"] == "Ab/+d="  # a quoted value keeps its "="
    assert results[1].comments == ("2048-bit key; unprotected",)  # a ";" in a comment splits nothing
    assert results[2].policy == "quarantine"


def test_no_results_and_nonsense_give_nothing() -> None:
    for value in ("mx.example.net; none", "", ";;;", "mx.example.net; =fail", "mx (a; dmarc=fail"):
        assert parse(value) == []


def test_only_trusted_authserv_ids_count() -> None:
    headers = ["mx.example.net; dmarc=fail header.from=a.example",
               "MX.Example.NET; spf=fail smtp.mailfrom=a.example",
               "elsewhere.example; dkim=fail header.d=a.example"]
    found = trusted_results(headers, frozenset({"mx.example.net"}))
    assert [r.method for r in found] == ["dmarc", "spf"]
    assert trusted_results(headers, frozenset()) == []


@given(st.text(max_size=300))
def test_any_header_value_parses_without_raising(value: str) -> None:
    for result in parse(value):
        assert result.method and result.result and isinstance(result.describe(), str)


@given(st.text(alphabet="ab.; =()\"\\\t", max_size=60))
def test_the_quick_authserv_id_check_agrees_with_the_parser(value: str) -> None:
    if "(" in value.partition(";")[0]:
        return  # a comment before the authserv-id: see _first_word
    ids = {r.authserv_id for r in parse(value)}
    assert trusted_results([value], frozenset(ids)) == (parse(value) if ids else [])


def test_a_huge_header_is_read_only_so_far() -> None:
    padding = "x" * MAX_CHARS
    value = (f"mx.example.net; dkim=pass header.d=a.example (padding {padding});"
             " dmarc=fail header.from=a.example")
    assert [r.method for r in trusted_results([value], frozenset({"mx.example.net"}))] == ["dkim"]
