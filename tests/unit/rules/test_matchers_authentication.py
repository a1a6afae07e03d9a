"""auth_result: results read from trusted Authentication-Results headers only."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwarden.rules.loader import RulesError, load_rules
from tests.unit.rules.helpers import hit_ids, make, one_rule, rule_file

TRUSTED = "mx.example.net"
OPENDMARC = f"{TRUSTED}; dmarc=fail (p=reject dis=none) header.from=bank.example"
OPENDKIM = (f"{TRUSTED};\n\tdkim=pass (2048-bit key; unprotected) header.d=shop.example "
            "header.i=@shop.example header.b=\"AbCd+/12\"")
SPF = f"{TRUSTED}; spf=softfail (domain of transitioning x@isp.example) smtp.mailfrom=x@isp.example"

CASES = [
    ("{method: dmarc, result: fail}", [OPENDMARC], True),
    ("{method: dmarc, result: pass}", [OPENDMARC], False),
    ("{method: dmarc, result: fail, policy: reject}", [OPENDMARC], True),
    ("{method: dmarc, result: fail, policy: [none, quarantine]}", [OPENDMARC], False),
    ("{method: dmarc, result: fail, policy: reject}",  # rspamd names the policy as a property
     [f"{TRUSTED}; dmarc=fail reason=\"No valid SPF\" header.from=bank.example policy.dmarc=reject"], True),
    ("{method: dmarc, result: fail, policy: reject}",  # Microsoft as an action
     [f"{TRUSTED}; dmarc=fail action=oreject header.from=bank.example"], True),
    ("{method: dmarc, result: fail, domain: {in: [bank.example]}}", [OPENDMARC], True),
    ("{method: dmarc, result: fail, domain: {in: [other.example]}}", [OPENDMARC], False),
    ("{method: dkim, result: pass, domain: {in: [shop.example]}}", [OPENDKIM], True),
    ("{method: [dkim, spf], result: [pass, fail]}", [SPF], False),
    ("{method: spf, result: [softfail, fail]}", [SPF], True),
    ("{method: spf, result: softfail, domain: {in: [isp.example]}}", [SPF], True),  # the sender's domain
    # the checker's header and a forged one: the forgery cannot hide the failure
    ("{method: dmarc, result: fail}", [f"{TRUSTED}; dmarc=pass header.from=bank.example", OPENDMARC], True),
    # written by someone else: never read, whatever it says
    ("{method: dmarc, result: fail}", ["mx.attacker.example; dmarc=fail header.from=bank.example"], False),
    ("{method: dmarc, result: fail}", [OPENDMARC.replace(TRUSTED, "mx.example.net.evil")], False),
    ("{method: dmarc, result: fail}", [OPENDMARC.upper()], True),  # authserv-id and keywords fold case
    ("{method: dmarc, result: fail}", [f"{TRUSTED}; none"], False),
    ("{method: dmarc, result: fail}", [f"{TRUSTED}; dmarc="], False),  # malformed: no result, no error
    ("{method: dmarc, result: fail}", [f"{TRUSTED} (unbalanced; dmarc=fail"], False),
]


@pytest.mark.parametrize(("condition", "headers", "hits"), CASES)
def test_auth_result(tmp_path: Path, condition: str, headers: list[str], hits: bool) -> None:
    check = one_rule(tmp_path, f"auth_result: {condition}", trusted_authserv_ids=(TRUSTED,))
    raw = make([*(("Authentication-Results", h) for h in headers), ("From", "a@bank.example"),
                ("Subject", "x")])
    assert (hit_ids(check, raw) == ["T"]) is hits


def test_nothing_is_read_when_no_authserv_id_is_trusted(tmp_path: Path) -> None:
    check = one_rule(tmp_path, "auth_result: {method: dmarc, result: fail}")
    raw = make([("Authentication-Results", OPENDMARC), ("From", "a@bank.example")])
    assert hit_ids(check, raw) == []


@pytest.mark.parametrize(("condition", "expected"), [
    ("{method: dmarc}", "needs result"),
    ("{method: dmarc, result: fial}", "expected one of fail, hardfail"),
    ("{method: spf, result: fail, policy: reject}", "policy applies to method: dmarc only"),
    ("{method: dmarc, result: fail, policy: drop}", "expected one of none, quarantine, reject"),
    ("{method: 'dm arc', result: fail}", "expected a method name"),
    ("{method: dkim, result: pass, domain: {in: ['not a domain']}}", "auth_result.domain.in[0]"),
    ("{method: dkim, result: pass, colour: red}", "unknown option for matcher auth_result"),
])
def test_a_bad_condition_names_its_file_line_and_key(tmp_path: Path, condition: str, expected: str) -> None:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "10-test.yaml").write_text(rule_file(f"auth_result: {condition}"))
    with pytest.raises(RulesError) as caught:
        load_rules([directory])
    assert "10-test.yaml:6: rule T: match.auth_result" in str(caught.value) and expected in str(caught.value)
