"""A reload closes the replaced bundle's history store, but only once nothing uses it any more.

What an operator would notice otherwise: every reload leaves the old bundle's SQLite files
open (descriptors pile up) or its Redis connections connected. And what must not happen
instead: a connection that took the old bundle before the reload losing its store in the
middle of a message. Both stores, the Redis one against a real redis-server.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import Milter
import pytest
import redis
from Milter import testctx

from postwarden.milter.callbacks import PostwardenMilter
from postwarden.milter.inflight import InFlight
from postwarden.runtime import Bundle, Runtime, build_bundle

from .helpers import config_file, message

REDIS_DB = 9  # only this test's stores select it, so CLIENT LIST can tell their connections apart
NO_MODELS = "models: {enabled: false}"  # each reload would load the text model: slow, and beside the point


OpenConnections = Callable[[list[Bundle]], int]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def runtime_and_open(request: pytest.FixtureRequest,
                     tmp_path: Path) -> Iterator[tuple[Runtime, OpenConnections]]:
    """A runtime whose config has the history on, and how many store connections are open
    among the given bundles (SQLite: as the stores count them; Redis: as the server sees them)."""
    if request.param == "sqlite":
        path = config_file(tmp_path, NO_MODELS)

        def open_connections(bundles: list[Bundle]) -> int:
            # Not descriptors: SQLite keeps a closed connection's descriptor for reuse while
            # another connection of the process holds the same file.
            return sum(_store(bundle).connections() for bundle in bundles)
    else:
        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0]
        path = config_file(tmp_path, NO_MODELS, store="redis", redis_url=f"{url}/{REDIS_DB}")
        observer = redis.Redis.from_url(f"{url}/0")
        request.addfinalizer(observer.close)

        def open_connections(bundles: list[Bundle]) -> int:  # those of every bundle in the test
            return sum(1 for client in observer.client_list() if int(client["db"]) == REDIS_DB)
    runtime = Runtime(path, build_bundle(path))
    yield runtime, open_connections
    runtime.close()


def _store_owner(bundle: Bundle) -> Any:
    return next(c for c in bundle.engine.checks if c.name == "recipient_history")


def _store(bundle: Bundle) -> Any:
    return _store_owner(bundle).store


def _use(bundle: Bundle, subject: str = "Contract") -> None:
    """One outbound message through the bundle's engine: it reads and writes the store."""
    bundle.engine.decide(message(["john.smith@acme.com"], subject, "John, the contract draft."))


def test_replaced_bundles_nobody_holds_are_closed_at_once(runtime_and_open: tuple[Runtime, OpenConnections]
                                                         ) -> None:
    runtime, open_connections = runtime_and_open
    seen = [runtime.current]
    _use(runtime.current)
    one = open_connections(seen)
    assert one >= 1
    for i in range(5):
        assert runtime.reload()[0]
        seen.append(runtime.current)
        _use(runtime.current, f"Contract {i}")
    assert open_connections(seen) == one  # five reloads, still only the current bundle's store


def test_a_held_bundle_stays_open_across_reloads_and_closes_with_its_last_user(
        runtime_and_open: tuple[Runtime, OpenConnections]) -> None:
    runtime, open_connections = runtime_and_open
    held = runtime.acquire()  # a connection that took the bundle, its message under way
    seen = [held]
    _use(held)
    one = open_connections(seen)
    for i in range(4):
        assert runtime.reload()[0]
        seen.append(runtime.current)
        _use(runtime.current, f"Contract {i}")
    assert runtime.retired() == [held.generation] and runtime.current.generation == 4
    assert open_connections(seen) == 2 * one  # the held one and the current one, not the three between
    _use(held, "Contract, finished on the old bundle")  # the old store still reads and writes
    runtime.release(held)
    assert runtime.retired() == [] and open_connections(seen) == one


def test_two_connections_on_one_bundle_close_it_after_the_second(
        runtime_and_open: tuple[Runtime, OpenConnections]) -> None:
    runtime, open_connections = runtime_and_open
    first, second = runtime.acquire(), runtime.acquire()
    _use(first)
    one = open_connections([first])
    assert runtime.reload()[0]
    seen = [first, runtime.current]
    _use(runtime.current)
    runtime.release(first)
    assert runtime.retired() == [second.generation] and open_connections(seen) == 2 * one
    _use(second, "Contract, still open")
    runtime.release(second)
    assert runtime.retired() == [] and open_connections(seen) == one


class _Ctx(testctx.TestCtx):
    def addheader(self, field: str, value: str, idx: int) -> None:
        pass

    def chgheader(self, field: str, idx: int, value: str) -> None:
        pass


def test_a_message_under_way_in_the_milter_finishes_on_its_store_across_reloads(
        runtime_and_open: tuple[Runtime, OpenConnections], monkeypatch: pytest.MonkeyPatch) -> None:
    runtime, open_connections = runtime_and_open
    monkeypatch.setattr(testctx.TestCtx, "default_opts", [Milter.CURR_ACTS, 0, 0, 0])
    inflight = InFlight()
    monkeypatch.setattr(Milter, "factory", lambda: PostwardenMilter(runtime, inflight))
    seen = [runtime.current]
    _use(runtime.current)
    one = open_connections(seen)
    ctx = _Ctx()
    ctx._setsymval("{client_addr}", "10.1.2.3")  # internal_networks: outbound, so it is learned
    assert ctx._connect(host="laptop.example.com", helo="laptop", ip="10.1.2.3") == Milter.CONTINUE
    ctx._envfrom("<alice@example.com>")
    ctx._envrcpt("<peter.brown@acme.com>")
    ctx._data()
    for name, value in [("From", b"Alice <alice@example.com>"), ("To", b"peter.brown@acme.com"),
                        ("Subject", b"Kick-off"), ("Date", b"Tue, 1 Dec 2026 10:00:00 +0000")]:
        ctx._priv.header_bytes(name, value)
    ctx._eoh()
    ctx._feed_body(io.BytesIO(b"Peter, the kick-off agenda.\r\n"))
    started = ctx._priv.bundle
    for _ in range(3):
        assert runtime.reload()[0]
        seen.append(runtime.current)
    assert runtime.retired() == [started.generation]
    assert ctx._eom() == Milter.ACCEPT  # decided and learned with the bundle it started with
    assert inflight.count == 0 and open_connections(seen) == 2 * one  # its store and the current one
    history = _store_owner(runtime.current).history  # the same database, through generation 3
    alice, peter = history.tok("a", "alice@example.com"), history.tok("a", "peter.brown@acme.com")
    assert history.store.counters([("c:" + alice, peter)])
    assert runtime.retired() == [started.generation]  # the connection is still open: so is its store
    ctx._close()
    assert runtime.retired() == []
    assert open_connections(seen) == one  # generation 3's: the store the last check used
