"""The default rule pack: every rule hits one message and stays quiet on a similar one.

``PACK`` must name every rule of ``rules/``: a new rule without its two messages fails
``test_every_shipped_rule_has_a_table_entry``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from postwarden.config import Config
from postwarden.context import INBOUND, OUTBOUND
from postwarden.gtube import GTUBE, gtube_string
from postwarden.rules.check import RulesCheck, build_rules_check, load_configured_rules
from postwarden.rules.dns import DnsLists
from postwarden.verdict import Action
from tests.unit.rules.dnsstub import StubDns
from tests.unit.rules.helpers import MZ, hit_ids, make, zipped

PDF = b"%PDF-1.4\n"
HAM = make()


@dataclass
class Msg:
    raw: bytes
    direction: str = INBOUND
    envelope: dict[str, object] = field(default_factory=dict)


def attach(name: str, ctype: str, data: bytes) -> Msg:
    return Msg(make(attachments=[(name, ctype, data)]))


def html(body: str) -> Msg:
    return Msg(make(text="html follows", html=body))


def invite(summary: str, description: str = "", organizer: str = "boss@example.org") -> Msg:
    return Msg(
        make(
            calendar=f"BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:{summary}\nDESCRIPTION:{description}\n"
            f"ORGANIZER:mailto:{organizer}\nEND:VEVENT\nEND:VCALENDAR\n"
        )
    )


RCPTS = tuple(f"r{i}@example.com" for i in range(120))
TRUSTED_AUTHSERV = "mx.example.net"


def authenticated(result: str, authserv_id: str = TRUSTED_AUTHSERV) -> Msg:
    """A message with the Authentication-Results header an earlier milter would have added."""
    return Msg(make({"Authentication-Results": f"{authserv_id}; {result}", "From": "a@bank.example"}))

PACK: dict[str, tuple[Msg, Msg]] = {
    "GTUBE": (Msg(make(text=f"test {GTUBE} test")), Msg(make(text="GTUBE is a test string"))),
    "GTUBE_QUARANTINE": (Msg(make(text=gtube_string(Action.QUARANTINE))), Msg(make(text=GTUBE))),
    "GTUBE_TEMPFAIL": (Msg(make(text=gtube_string(Action.TEMPFAIL))), Msg(make(text=GTUBE))),
    "GTUBE_DISCARD": (Msg(make(text=gtube_string(Action.DISCARD))), Msg(make(text=GTUBE))),
    "EXECUTABLE_ATTACHMENT": (
        attach("setup.exe", "application/octet-stream", MZ),
        attach("setup.pdf", "application/pdf", PDF),
    ),
    "DOUBLE_EXTENSION_EXECUTABLE": (
        attach("invoice.pdf.scr", "application/pdf", MZ),
        attach("invoice.2024.pdf", "application/pdf", PDF),
    ),
    "EXECUTABLE_DISGUISED": (
        attach("photo.jpg", "image/jpeg", MZ),
        attach("tool.exe", "application/octet-stream", MZ),
    ),
    "EXECUTABLE_IN_ARCHIVE": (
        attach("docs.zip", "application/zip", zipped("docs/readme.txt", "docs/run.js")),
        attach("docs.zip", "application/zip", zipped("docs/readme.txt", "a.pdf")),
    ),
    "RISKY_CONTAINER_ATTACHMENT": (
        attach("scan.iso", "application/octet-stream", b"\x00" * 64),
        attach("scan.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ),
    "HTML_ATTACHMENT": (
        attach("login.html", "text/html", b"<html>sign in</html>"),
        attach("notes.txt", "text/plain", b"notes"),
    ),
    "ATTACHMENT_TYPE_MISMATCH": (attach("a.png", "image/png", PDF), attach("a.pdf", "application/pdf", PDF)),
    "LINK_TEXT_DOMAIN_MISMATCH": (
        html('<a href="http://login.evil.example/">www.mybank.example</a>'),
        html('<a href="https://www.mybank.example/login">www.mybank.example</a>'),
    ),
    "URL_IP_LITERAL": (
        Msg(make(text="log in at http://198.51.100.7/bank/")),
        Msg(make(text="log in at https://bank.example/")),
    ),
    "URL_PUNYCODE": (Msg(make(text="http://xn--80ak6aa92e.com/")), Msg(make(text="http://apple.com/"))),
    "URL_SHORTENER": (Msg(make(text="https://bit.ly/3xYz")), Msg(make(text="https://bitly.example/3xYz"))),
    "FROM_NAME_HAS_OTHER_ADDRESS": (
        Msg(make({"From": '"payroll@example.net" <x@evil.example>'})),
        Msg(make({"From": '"Alice (alice@example.org)" <alice@example.org>'})),
    ),
    "FREEMAIL_REPLY_TO_COMPANY_FROM": (
        Msg(make({"From": "ceo@acme.example", "Reply-To": "acme.ceo@gmail.com"})),
        Msg(make({"From": "x@gmail.com", "Reply-To": "y@gmail.com"})),
    ),
    "FORGED_LOCAL_FROM": (
        Msg(make({"From": "ceo@example.net"})),
        Msg(make({"From": "ceo@example.net"}), OUTBOUND),
    ),
    "MISSING_MESSAGE_ID": (Msg(make({"Message-ID": None})), Msg(HAM)),
    "MALFORMED_MESSAGE_ID": (Msg(make({"Message-ID": "1234 at host"})), Msg(HAM)),
    "MISSING_DATE": (Msg(make({"Date": None})), Msg(HAM)),
    "MALFORMED_DATE": (Msg(make({"Date": "yesterday at noon"})), Msg(make({"Date": "2 Sep 2002 13:17 GMT"}))),
    "MISSING_FROM": (Msg(make({"From": None})), Msg(HAM)),
    "MULTIPLE_FROM": (
        Msg(make([("From", "a@example.org"), ("From", "b@example.org"), ("Subject", "x")])),
        Msg(HAM),
    ),
    "HELO_BARE_IP": (
        Msg(HAM, envelope={"helo": "198.51.100.7"}),
        Msg(HAM, envelope={"helo": "[198.51.100.7]"}),
    ),
    "HELO_LOCALHOST": (
        Msg(HAM, envelope={"helo": "localhost", "client_ip": "198.51.100.7"}),
        Msg(HAM, envelope={"helo": "localhost", "client_ip": "127.0.0.1"}),  # a local relay
    ),
    "OUTBOUND_MANY_RECIPIENTS": (
        Msg(HAM, OUTBOUND, {"rcpts": RCPTS}),
        Msg(HAM, OUTBOUND, {"rcpts": RCPTS[:20]}),
    ),
    "CALENDAR_SPAM_WORDS": (invite("Your BTC payout is ready"), invite("Quarterly planning")),
    "CALENDAR_FREEMAIL_ORGANIZER_LINK": (
        invite("Meet", "Join: https://x.example/", "a@gmail.com"),
        invite("Meet", "Join: https://x.example/"),
    ),
    "DMARC_FAIL_POLICY_REJECT": (
        authenticated("dmarc=fail (p=reject dis=none) header.from=bank.example"),
        authenticated("dmarc=fail (p=reject dis=none) header.from=bank.example", "mx.forger.example"),
    ),
    "DMARC_FAIL_POLICY_QUARANTINE": (
        authenticated("dmarc=fail (p=quarantine dis=none) header.from=bank.example"),
        authenticated("dmarc=fail (p=reject dis=none) header.from=bank.example"),
    ),
    "DMARC_FAIL": (
        authenticated("dmarc=fail (p=none dis=none) header.from=bank.example"),
        authenticated("dmarc=fail (p=reject dis=none) header.from=bank.example"),
    ),
    "SPF_FAIL": (
        authenticated("spf=fail smtp.mailfrom=a@bank.example"),
        authenticated("spf=softfail smtp.mailfrom=a@bank.example"),
    ),
    "SPF_SOFTFAIL": (
        authenticated("spf=softfail smtp.mailfrom=a@bank.example"),
        authenticated("spf=pass smtp.mailfrom=a@bank.example"),
    ),
    "DKIM_FAIL": (
        authenticated("dkim=fail (bad signature) header.d=bank.example"),
        authenticated("dkim=pass header.d=bank.example"),
    ),
    "DMARC_PASS_ALLOWLISTED_SENDER": (
        authenticated("dmarc=pass (p=reject dis=none) header.from=mail.paypal.com"),
        authenticated("dmarc=pass (p=none dis=none) header.from=paypa1.com"),  # a lookalike's own pass
    ),
    "SPAMHAUS_ZEN": (
        Msg(HAM, envelope={"client_ip": "127.0.0.2"}),
        Msg(HAM, envelope={"client_ip": "127.0.0.1"}),
    ),
    "SPAMHAUS_DBL_LINK": (Msg(make(text="http://www.dbltest.com/")), Msg(make(text="http://example.org/"))),
}


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesCheck]:
    """The shipped pack, with the (shipped disabled) DNS rules turned on against a stub."""
    stub = StubDns(
        records={
            "2.0.0.127.zen.spamhaus.org": (["127.0.0.2"], 300),
            "dbltest.com.dbl.spamhaus.org": (["127.0.1.2"], 300),
        }
    )
    local = tmp_path_factory.mktemp("local")
    (local / "10-enable-dns.yaml").write_text(
        "rules:\n  - id: SPAMHAUS_ZEN\n    override: true\n    enabled: true\n"
        "  - id: SPAMHAUS_DBL_LINK\n    override: true\n    enabled: true\n"
        "  - id: DMARC_PASS_ALLOWLISTED_SENDER\n    override: true\n    enabled: true\n"
    )
    config = Config(local_domains=["example.net"], trusted_authserv_ids=[TRUSTED_AUTHSERV])
    dns = DnsLists(nameservers=["127.0.0.1"], port=stub.port, timeout=0.5, budget=1.0)
    ruleset = load_configured_rules(config, [*_pack_dirs(config), local], dns=dns)
    yield RulesCheck(ruleset, dns=dns)
    stub.close()


def _pack_dirs(config: Config) -> list[Path]:
    from postwarden.rules.check import rules_directories

    return rules_directories(config)


def test_every_shipped_rule_has_a_table_entry() -> None:
    shipped = {r.id for r in load_configured_rules(Config()).rules}
    assert shipped == set(PACK)


@pytest.mark.parametrize("rule_id", sorted(PACK))
def test_rule_hits_its_message_and_not_the_other(pack: RulesCheck, rule_id: str) -> None:
    hitting, quiet = PACK[rule_id]
    assert rule_id in hit_ids(pack, hitting.raw, hitting.direction, **hitting.envelope)
    assert rule_id not in hit_ids(pack, quiet.raw, quiet.direction, **quiet.envelope)


def test_plain_ham_hits_nothing(pack: RulesCheck) -> None:
    assert hit_ids(pack, HAM, client_ip="127.0.0.1", helo="mx.example.org") == []


def test_authentication_rules_read_nothing_until_an_authserv_id_is_trusted() -> None:
    check = build_rules_check(Config())
    hitting = PACK["DMARC_FAIL_POLICY_REJECT"][0]
    assert check.defines("DMARC_FAIL_POLICY_REJECT")
    assert hit_ids(check, hitting.raw) == []


def test_dns_rules_ship_disabled() -> None:
    check = build_rules_check(Config())
    assert not check.defines("SPAMHAUS_ZEN") and not check.defines("SPAMHAUS_DBL_LINK")
    assert check.by_id["SPAMHAUS_ZEN"].enabled is False


def test_the_rule_that_rewards_a_dmarc_pass_ships_disabled() -> None:
    check = build_rules_check(Config(trusted_authserv_ids=[TRUSTED_AUTHSERV]))
    assert check.by_id["DMARC_PASS_ALLOWLISTED_SENDER"].enabled is False
    assert hit_ids(check, PACK["DMARC_PASS_ALLOWLISTED_SENDER"][0].raw) == []
