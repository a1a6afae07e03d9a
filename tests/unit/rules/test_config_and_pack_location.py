"""The `rules` config section, where the shipped pack is found, and robustness of the pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwarden.config import Config, ConfigError, RulesSettings, load_config
from postwarden.engine import Engine
from postwarden.rules.check import build_rules_check
from postwarden.rules.pack import CHECKOUT_PACK, PACKAGE_PACK, default_rules_dir
from tests.unit.rules.helpers import evaluate

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_pack_is_package_data_and_the_checkout_rules_directory() -> None:
    assert default_rules_dir() == PACKAGE_PACK and PACKAGE_PACK.is_dir()
    shipped = sorted(p.name for p in PACKAGE_PACK.glob("*.yaml"))
    assert shipped == sorted(p.name for p in (ROOT / "rules").glob("*.yaml")) and shipped
    assert CHECKOUT_PACK == ROOT / "rules"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  dns:\n    nameservers: [resolver.example]\n",
            ":3: rules.dns.nameservers: expected IP addresses such as 127.0.0.1",
        ),
        ("rules:\n  dns:\n    budget: 0\n", ":3: rules.dns.budget: expected a positive number"),
        ("rules:\n  dns:\n    port: 70000\n", ":3: rules.dns.port: expected a port from 1 to 65535"),
        ("rules:\n  watch: sometimes\n", ":2: rules.watch: expected true or false"),
        ("rules:\n  folder: /x\n", ":2: rules.folder: unknown key"),
        ("rules:\n  directory: /nonexistent/rules\n",
         ":2: rules.directory: no such directory: /nonexistent/rules"),
        ("rules:\n  enabled: true\n  local_directory: /nonexistent/site\n",
         ":3: rules.local_directory: no such directory: /nonexistent/site"),
    ],
)
def test_rules_settings_errors_are_located(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "postwarden.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)


def test_a_missing_rules_directory_refuses_the_engine(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere: rules directory not found"):
        Engine(Config(rules=RulesSettings(directory=str(tmp_path / "nowhere"))))


_PACK = build_rules_check(Config(local_domains=["example.net"]))
_header_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=_header_text,
    sender=_header_text,
    body=st.binary(max_size=2000),
    ctype=st.sampled_from(
        ["text/plain", "text/html", "multipart/mixed; boundary=x", "text/calendar", "application/zip"]
    ),
)
def test_no_message_makes_a_pack_rule_fail(subject: str, sender: str, body: bytes, ctype: str) -> None:
    raw = (f"From: {sender}\nSubject: {subject}\nContent-Type: {ctype}\n\n").encode("utf-8", "replace") + body
    hits = evaluate(_PACK, raw, client_ip="192.0.2.1", helo=sender or None)
    assert not [h for h in hits if h.id == "RULE_ERROR"], hits
