"""Configuration: the shipped file equals the defaults, and every error is located."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwarden.config import Config, ConfigError, load_config
from postwarden.schema import documented_fields

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "config" / "postwarden.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "postwarden.yaml"
    path.write_text(text)
    return path


def test_shipped_config_is_valid_and_equals_the_defaults() -> None:
    assert load_config(SHIPPED) == Config()


def test_every_setting_is_documented_in_the_shipped_file() -> None:
    text = SHIPPED.read_text()
    for dotted, doc in documented_fields(Config).items():
        assert doc, f"{dotted} has no doc string"
        leaf = dotted.rsplit(".", 1)[-1]
        assert f"{leaf}:" in text, f"{dotted} missing from {SHIPPED.name}"


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("milter:\n  sockett: unix:/x\n", ":2: milter.sockett: unknown key"),
        ("thresholds:\n  reject: lots\n", ":2: thresholds.reject: expected a number, got str 'lots'"),
        ("on_error: ignore\n", ":1: on_error: expected one of 'accept', 'tempfail'"),
        ("milter:\n  socket: inet:127.0.0.1:9000\n", ":2: milter.socket: expected inet:PORT@HOST"),
        ("internal_networks: [10.0.0.1/8]\n", ":1: internal_networks: expected CIDR networks"),
        ("reply:\n  reject: 100% spam\n", ":2: reply.reject: a '%' in SMTP reply text"),
        ("milter: [1, 2]\n", ":1: milter: expected a mapping, got a list"),
        ("log:\n  level: loud\n", ":2: log.level: expected one of"),
        ("milter:\n  socket_owner: no-such-user-here\n", ":2: milter.socket_owner: no such user"),
        ("thresholds: {tag: 9, quarantine: 8}\n", "thresholds: expected tag <= quarantine <= reject"),
        ("a: [unclosed\n", ":2: YAML syntax error"),
        ("trusted_authserv_ids: ['mx.example.net; dkim=pass']\n",
         ":1: trusted_authserv_ids: expected an authserv-id such as mx.example.com"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "on_error: maybe\nmax_scan_bytes: -1\nbogus: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[0].rsplit(":", 1)[1] for line in lines] == ["1", "2", "3"]


def test_octal_mode_stays_text(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "milter:\n  socket_mode: 0640\n"))
    assert config.milter.socket_mode == "0640"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
