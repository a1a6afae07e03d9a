"""`postwarden check-config` validates with the daemon's loader: config, rules and models."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwarden.cli import main


def test_good_config_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "postwarden.yaml"
    config.write_text("gtube: {enabled: true}\n")
    assert main(["check-config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == f"{config}: ok"


def test_a_broken_rule_fails_the_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-mine.yaml").write_text("rules:\n  - id: MINE\n    score: 1\n    match:\n"
                                        "      subjekt: {contains: x}\n")
    config = tmp_path / "postwarden.yaml"
    config.write_text(f"rules:\n  directory: {rules}\n")
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{rules / '10-mine.yaml'}:5" in err and "subjekt" in err
