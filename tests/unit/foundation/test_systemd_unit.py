"""The shipped systemd unit is one systemd accepts, and its commands are the CLI's.

No test can boot systemd here, so this is what a mistake in the unit would break first: a
directive systemd ignores with a warning (a misspelt KillMode, say) or an Exec line naming a
subcommand or option the CLI no longer has, which would only show when an operator runs
``systemctl start``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from postwarden.cli import _build_parser

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "config" / "postwarden.service"
INSTALLED = "/usr/local/bin/postwarden"  # where the unit expects the entry point
CONFIG = "/etc/postwarden/postwarden.yaml"


def _postwarden() -> str:
    found = shutil.which("postwarden") or str(Path(sys.executable).with_name("postwarden"))
    assert Path(found).exists(), "the postwarden entry point is not installed beside this Python"
    return found


def _exec_lines() -> dict[str, list[list[str]]]:
    """Each Exec* directive's command lines, the "+"/"-" prefixes stripped."""
    out: dict[str, list[list[str]]] = {}
    for line in UNIT.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("Exec"):
            out.setdefault(key, []).append(shlex.split(value.lstrip("+-@!:")))
    return out


def test_systemd_accepts_every_directive_of_the_unit(tmp_path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is not installed, and CI=true requires this test")
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "postwarden.service"  # as installed, with the entry point of this checkout
    unit.write_text(UNIT.read_text().replace(INSTALLED, _postwarden()))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # verify exits 0 on a directive it ignores; its warnings name the file
    assert str(unit) not in result.stderr and unit.name not in result.stderr, result.stderr


def test_the_units_commands_are_subcommands_and_options_the_cli_has() -> None:
    lines = _exec_lines()
    assert {"ExecStartPre", "ExecStart", "ExecReload"} <= set(lines)
    commands = [argv for argvs in lines.values() for argv in argvs if argv[0] == INSTALLED]
    assert {argv[1] for argv in commands} == {"check-config", "serve", "reload"}
    parser = _build_parser()
    for argv in commands:
        args = parser.parse_args(argv[1:])  # exits (a test failure) on anything it does not know
        assert getattr(args, "config", None) == CONFIG, argv


def test_the_units_config_check_passes_on_the_shipped_configuration() -> None:
    (check,) = [argv for argv in _exec_lines()["ExecStartPre"] if argv[0] == INSTALLED]
    shipped = str(ROOT / "config" / "postwarden.yaml")
    argv = [_postwarden(), *(shipped if a == CONFIG else a for a in check[1:])]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": ok")
