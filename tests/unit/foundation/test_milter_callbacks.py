"""The milter callbacks driven through pymilter's test context (no MTA, real callbacks)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import Milter
import pytest
from Milter import testctx

from postwarden.gtube import gtube_string
from postwarden.milter.callbacks import PostwardenMilter
from postwarden.milter.inflight import InFlight
from postwarden.runtime import Runtime, build_bundle
from postwarden.smtp_reply import MAX_LINE, with_queue_id
from postwarden.verdict import Action


class Ctx(testctx.TestCtx):
    """TestCtx records replies and headers; it lacks quarantine, which we need."""

    def __init__(self) -> None:
        super().__init__()
        self.quarantined: str | None = None
        self.changed: list[tuple[str, int, str]] = []
        self.added: list[tuple[str, str]] = []

    def quarantine(self, reason: str) -> None:
        self.quarantined = reason

    def addheader(self, field: str, value: str, idx: int) -> None:
        self.added.append((field, value))

    def chgheader(self, field: str, idx: int, value: str) -> None:
        self.changed.append((field, idx, value))


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    # TestCtx treats NOREPLY from connect/helo as a refusal and closes; offer no "no reply"
    # protocol bits so the callbacks answer CONTINUE (the real MTA path runs in integration).
    monkeypatch.setattr(testctx.TestCtx, "default_opts", [Milter.CURR_ACTS, 0, 0, 0])
    config = tmp_path / "postwarden.yaml"
    config.write_text("internal_networks: [10.0.0.0/8]\nmilter: {socket_owner: null}\n")
    runtime = Runtime(config, build_bundle(config))
    inflight = InFlight()
    Milter.factory = lambda: PostwardenMilter(runtime, inflight)
    runtime.inflight = inflight  # type: ignore[attr-defined]
    yield runtime
    Milter.factory = Milter.Milter


def send(headers: list[tuple[str, bytes]], body: bytes, ip: str = "192.0.2.10",
         macros: dict[str, str] | None = None) -> tuple[Ctx, int]:
    ctx = Ctx()
    # TestCtx hands connect() the bare address, not libmilter's (ip, port) tuple; the
    # callback then falls back to the {client_addr} macro, as it does for unix-socket MTAs.
    for name, value in {"{client_addr}": ip, **(macros or {})}.items():
        ctx._setsymval(name, value)
    assert ctx._connect(host="mx.example", helo="mx.example", ip=ip) == Milter.CONTINUE
    ctx._envfrom("<alice@example.org>", "SIZE=100")
    ctx._envrcpt("<bob@example.net>")
    ctx._data()
    for name, value in headers:
        ctx._priv.header_bytes(name, value)
    ctx._eoh()
    ctx._feed_body(io.BytesIO(body))
    return ctx, ctx._eom()


HEADERS = [(b"From", b"alice@example.org"), (b"To", b"bob@example.net"), (b"Subject", b"hi"),
           (b"Date", b"Wed, 02 Dec 2026 09:00:00 +0000"), (b"Message-ID", b"<1@example.org>")]


def _headers(extra: list[tuple[str, bytes]] | None = None) -> list[tuple[str, bytes]]:
    return [(n.decode(), v) for n, v in HEADERS] + (extra or [])


def test_gtube_is_rejected_with_550(runtime: Runtime) -> None:
    ctx, rc = send(_headers(), f"{gtube_string(Action.REJECT)}\r\n".encode())
    assert rc == Milter.REJECT
    assert ctx._reply[:2] == ("550", "5.7.1")
    assert "GTUBE" in ctx._reply[2]


def test_reject_and_tempfail_texts_end_with_the_queue_id(runtime: Runtime) -> None:
    ctx, rc = send(_headers(), f"{gtube_string(Action.REJECT)}\r\n".encode(), macros={"i": "4XyZ1k2"})
    assert rc == Milter.REJECT
    assert ctx._reply[2] == "GTUBE test message: rejected as the test asks (queue id 4XyZ1k2)"
    ctx, rc = send(_headers(), gtube_string(Action.TEMPFAIL).encode(), macros={"i": "4XyZ1k3"})
    assert rc == Milter.TEMPFAIL and ctx._reply[2].endswith(" (queue id 4XyZ1k3)")


def test_queue_id_in_replies_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(testctx.TestCtx, "default_opts", [Milter.CURR_ACTS, 0, 0, 0])
    config = tmp_path / "postwarden.yaml"
    config.write_text("milter: {socket_owner: null}\nreply: {queue_id: false}\n")
    runtime = Runtime(config, build_bundle(config))
    Milter.factory = lambda: PostwardenMilter(runtime, InFlight())
    try:
        ctx, _ = send(_headers(), f"{gtube_string(Action.REJECT)}\r\n".encode(), macros={"i": "4XyZ1k2"})
    finally:
        Milter.factory = Milter.Milter
    assert ctx._reply[2] == "GTUBE test message: rejected as the test asks"


def test_a_long_reply_is_shortened_so_the_queue_id_still_fits() -> None:
    text = with_queue_id("word " * 200, "4XyZ1k2")
    assert len(text) <= MAX_LINE and text.endswith("word (queue id 4XyZ1k2)")


def test_clean_mail_is_accepted_with_status_and_forgeries_removed(runtime: Runtime) -> None:
    forged = [("X-Postwarden-Status", b"ham score=-100"), ("x-postwarden-status", b"ham again")]
    ctx, rc = send(_headers(forged), b"hello\r\n", macros={"i": "ABC123"})
    assert rc == Milter.ACCEPT
    assert ("X-Postwarden-Status", 2, "") in ctx.changed and ("X-Postwarden-Status", 1, "") in ctx.changed
    status = dict(ctx.added)["X-Postwarden-Status"]
    assert status.startswith("ham score=") and status.endswith("direction=inbound")


def test_quarantine_tempfail_discard(runtime: Runtime) -> None:
    ctx, rc = send(_headers(), gtube_string(Action.QUARANTINE).encode())
    assert rc == Milter.ACCEPT and ctx.quarantined and ctx.quarantined.startswith("postwarden:")
    assert len(ctx.quarantined.encode()) <= 100
    ctx, rc = send(_headers(), gtube_string(Action.TEMPFAIL).encode())
    assert rc == Milter.TEMPFAIL and ctx._reply[:2] == ("451", "4.7.1")
    ctx, rc = send(_headers(), gtube_string(Action.DISCARD).encode())
    assert rc == Milter.DISCARD


def test_direction_from_auth_macro_and_internal_network(runtime: Runtime) -> None:
    ctx, _ = send(_headers(), b"x\r\n", macros={"{auth_authen}": "alice"})
    assert "direction=outbound" in dict(ctx.added)["X-Postwarden-Status"]
    ctx, _ = send(_headers(), b"x\r\n", ip="10.1.2.3")
    assert "direction=outbound" in dict(ctx.added)["X-Postwarden-Status"]


def test_eight_bit_header_bytes_are_kept(runtime: Runtime) -> None:
    _, rc = send(_headers([("Subject", b"Gr\xfc\xdfe")]), b"x\r\n")
    assert rc == Milter.ACCEPT


def test_internal_error_answers_on_error_and_keeps_running(runtime: Runtime,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(txn: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(runtime.current.engine, "decide", broken)
    ctx, rc = send(_headers(), b"x\r\n", macros={"i": "Q1"})
    assert rc == Milter.TEMPFAIL and ctx._reply[:2] == ("451", "4.3.0")
    assert runtime.inflight.count == 0  # type: ignore[attr-defined]


def test_body_is_capped_but_counted(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    original = runtime.current.engine.decide

    def spy(txn):  # type: ignore[no-untyped-def]
        seen["kept"], seen["size"] = len(txn.body), txn.body_size
        return original(txn)

    monkeypatch.setattr(runtime.current.engine, "decide", spy)
    _, rc = send(_headers(), b"y" * (3 << 20))
    assert rc == Milter.ACCEPT
    assert seen == {"kept": 1 << 20, "size": 3 << 20}
