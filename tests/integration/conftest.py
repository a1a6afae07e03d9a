"""Fixtures that run a real, private Postfix with a real `postwarden serve` behind it.

Nothing here touches a system Postfix: every instance lives in its own temporary directory
(see scripts/postfix_instance.py). Missing Postfix, root, pymilter or (for the SMTP AUTH tests)
Cyrus SASL skips these tests on a developer machine and fails them when CI=true, so CI cannot
pass without running them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from postfix_harness import MAX_SCAN_BYTES, check_daemon_log
from postfix_instance import Stack, missing_components, missing_sasl_components


def _require(missing: list[str], what: str) -> None:
    """Skip on a developer machine, fail in CI: a missing component never passes CI quietly."""
    if missing:
        text = f"cannot run {what}; missing: " + "; ".join(missing)
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(text, pytrace=False)
        pytest.skip(text)


@pytest.fixture(scope="session")
def postfix_available() -> None:
    _require(missing_components(), "the Postfix integration tests")


@pytest.fixture(scope="session")
def sasl_available(postfix_available: None) -> None:
    """Cyrus SASL for a Postfix with SMTP AUTH (scripts/setup.sh installs it)."""
    _require(missing_sasl_components(), "the SMTP AUTH (SASL) tests")


@pytest.fixture(scope="module", params=["unix", "inet"])
def shared_stack(request: pytest.FixtureRequest, postfix_available: None) -> Iterator[Stack]:
    """One Postfix + postwarden per test module and socket family, shared by read-only tests."""
    stack = Stack(family=request.param, max_scan_bytes=MAX_SCAN_BYTES).start()
    try:
        yield stack
    finally:
        stack.close()
        check_daemon_log(stack.daemon_log_tail, "postwarden serve")


@pytest.fixture
def stack(shared_stack: Stack) -> Iterator[Stack]:
    offset = len(shared_stack.daemon.stderr())
    yield shared_stack
    check_daemon_log(shared_stack.daemon.stderr()[offset:])


@pytest.fixture
def make_stack(postfix_available: None) -> Iterator[Callable[..., Stack]]:
    """Start a fresh Postfix + postwarden for a test that changes or stops it."""
    made: list[Stack] = []

    def factory(**kwargs: object) -> Stack:
        stack = Stack(**kwargs).start()  # type: ignore[arg-type]
        made.append(stack)
        return stack

    yield factory
    for stack in made:
        stack.close()
    for stack in made:
        check_daemon_log(stack.daemon_log_tail)
