"""Fixtures for the recipient-history tests: a real redis-server on a free loopback port.

Without redis-server installed the Redis half of the store suite is skipped, except under
CI=true, where a missing server is a failure (so CI cannot pass by testing half the stores).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from postwarden.misdirection.history import RecipientHistory
from postwarden.stores.sqlite import SqliteStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed, and CI=true requires the Redis store tests")
        pytest.skip("redis-server is not installed")
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator:
    """One store of each kind, empty for every test."""
    from postwarden.stores import open_store

    if request.param == "sqlite":
        s = open_store("sqlite", path=str(tmp_path / "history.sqlite"))
    else:
        url = request.getfixturevalue("redis_url")
        s = open_store("redis", url=url, prefix=f"test{time.monotonic_ns()}:")
    yield s
    s.close()


@pytest.fixture(params=[None, "history-test-secret-0123456789"], ids=["plain", "hashed"])
def history(request: pytest.FixtureRequest) -> Iterator[RecipientHistory]:
    """A history on an in-memory SQLite store, plain and hashed (every behaviour holds in both)."""
    h = RecipientHistory(SqliteStore(":memory:"), request.param, half_life_days=30, horizon_days=365,
                         local_domains=["example.com"])
    yield h
    h.store.close()
