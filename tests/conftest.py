"""Suite-wide guards: in CI the Postfix tests must actually run, not be skipped away."""

from __future__ import annotations

import os

import pytest

_ran: dict[str, int] = {"postfix": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "postfix" in report.keywords and not report.skipped:
        _ran["postfix"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") != "true" or session.config.option.collectonly:
        return
    if session.config.option.keyword or session.config.option.markexpr:
        return  # a deliberate subset
    if _ran["postfix"] == 0 and session.testscollected:
        session.config.get_terminal_writer().line(
            "CI: no test against the real Postfix ran; failing the run", red=True)
        session.exitstatus = 1
