"""The daemon's life inside Postfix: milter down, reloads good and bad, SIGTERM.

Each test starts its own Postfix and daemon, because each changes or stops them.
"""

from __future__ import annotations

import contextlib
import signal
import smtplib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from postfix_harness import STATUS, make_message, status_of
from postfix_instance import Stack, smtp_send, wait_until

from postwarden.gtube import GTUBE

pytestmark = pytest.mark.postfix

INBOUND, OUTBOUND = "inbound", "outbound"


def test_milter_down_postfix_applies_milter_default_action(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(default_action="tempfail")
    assert stack.daemon.stop() == 0
    message_id, raw = make_message()
    result = stack.send(raw)
    # Postfix 3.7 answers the connection and EHLO, then refuses the first MAIL FROM.
    assert result.code == 451 and result.stage in ("connect", "mail"), result
    assert result.text.startswith("4.7.1 ")
    stack.postfix.postconf(milter_default_action="accept")
    result = stack.send(raw)
    assert result.accepted, result
    delivered = stack.postfix.wait_delivered(message_id)
    assert delivered.get_all(STATUS) is None  # passed unfiltered: nobody added a verdict


def test_broken_reload_is_refused_with_location_and_old_config_keeps_working(
        make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    config: Path = stack.daemon.config_path
    good = config.read_text()
    config.write_text(good + "reply:\n  reject: rejected\n  colour: blue\n")
    bad_line = len(good.splitlines()) + 3
    answer = stack.daemon.control("reload")
    assert answer.returncode == 1
    assert f"{config}:{bad_line}: reply.colour: unknown key" in answer.stderr
    status = stack.daemon.control("status")
    assert status.returncode == 0
    assert "generation 0" in status.stdout and "last-reload-error" in status.stdout
    # Still the old configuration: GTUBE rejected, ham delivered with the inbound verdict.
    _, spam = make_message(f"{GTUBE}\n")
    assert stack.send(spam).code == 550
    message_id, ham = make_message()
    assert stack.send(ham).accepted
    assert status_of(stack.postfix.wait_delivered(message_id))[1] == INBOUND


def test_good_reload_applies_to_new_connections_only(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    config: Path = stack.daemon.config_path
    original = config.read_text()
    with smtplib.SMTP("127.0.0.1", stack.postfix.port, timeout=30) as old_session:
        old_session.ehlo()  # the milter connection (and its configuration) exists from here on
        config.write_text(original.replace("10.255.255.0/24", "127.0.0.0/8")
                          + "gtube:\n  enabled: false\n")
        answer = stack.daemon.control("reload")
        assert answer.returncode == 0, answer.stderr
        assert "generation 1" in answer.stdout
        old_id, old_raw = make_message()
        assert smtp_send(stack.postfix.port, old_raw, client=old_session).accepted
    new_id, new_raw = make_message()
    assert stack.send(new_raw).accepted
    assert status_of(stack.postfix.wait_delivered(old_id))[1] == INBOUND
    assert status_of(stack.postfix.wait_delivered(new_id))[1] == OUTBOUND
    gtube_id, gtube = make_message(f"{GTUBE}\n")
    assert stack.send(gtube).accepted  # gtube.enabled: false now
    stack.postfix.wait_delivered(gtube_id)

    # SIGHUP reloads, as administrators expect (the supervising parent takes it; libmilter,
    # which would stop on it, never sees it), and so does SIGUSR1.
    config.write_text(original)
    stack.daemon.signal(signal.SIGHUP)
    wait_until(lambda: "(generation 2)" in stack.daemon.stderr(), 10, "the SIGHUP reload")
    assert stack.send(gtube).code == 550
    config.write_text(original + "gtube:\n  enabled: false\n")
    stack.daemon.signal(signal.SIGUSR1)
    wait_until(lambda: "(generation 3)" in stack.daemon.stderr(), 10, "the SIGUSR1 reload")
    assert stack.send(gtube).accepted
    assert stack.daemon.running


def test_sigterm_stops_the_daemon_cleanly(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(default_action="tempfail")
    message_id, raw = make_message()
    assert stack.send(raw).accepted
    stack.postfix.wait_delivered(message_id)
    stack.daemon.signal(signal.SIGTERM)
    proc = stack.daemon.proc
    assert proc is not None
    assert proc.wait(15) == 0
    log = stack.daemon.stderr()
    assert log.rstrip().endswith("postwarden.daemon: stopped")
    assert "still in flight" not in log
    assert not Path(stack.milter_spec.removeprefix("unix:")).exists()
    # From now on Postfix applies milter_default_action to new clients.
    assert stack.send(raw).code == 451


def test_sigterm_lets_the_message_in_flight_finish_and_defers_new_ones(
        make_stack: Callable[..., Stack]) -> None:
    """SIGTERM reaches the supervising parent, which asks the libmilter process to drain: the
    message already on the wire gets its verdict and is delivered, a message that starts during
    the drain is deferred (4xx, the client retries), then the daemon exits 0."""
    stack = make_stack(default_action="tempfail", shutdown_grace=20.0)
    message_id, raw = make_message()
    with smtplib.SMTP("127.0.0.1", stack.postfix.port, timeout=30) as session:
        session.ehlo()
        assert session.mail("sender@example.test")[0] == 250
        assert session.rcpt("user@example.test")[0] == 250
        # Postfix passes MAIL and RCPT to the milter together with DATA (they need no reply),
        # so the message is in the daemon's hands once DATA is answered.
        session.putcmd("data")
        assert session.getreply()[0] == 354
        wait_until(lambda: "in-flight 1" in stack.daemon.control("status").stdout, 10,
                   "the daemon to see the message")
        stack.daemon.signal(signal.SIGTERM)
        wait_until(lambda: "stopping after 1 message(s) in flight" in stack.daemon.stderr(), 15,
                   "the daemon to start draining")
        _, late = make_message()
        assert stack.send(late).code == 451  # new work is deferred while draining
        session.send(raw + b".\r\n")
        code, text = session.getreply()
    assert code == 250, text
    assert stack.postfix.wait_delivered(message_id)
    proc = stack.daemon.proc
    assert proc is not None
    assert proc.wait(20) == 0
    assert "still in flight" not in stack.daemon.stderr()


@contextlib.contextmanager
def _message_in_flight(stack: Stack) -> Iterator[None]:
    """A message started and left in the middle of its body, with the daemon counting it. The
    session ends without QUIT, which Postfix would read as more of the unfinished body."""
    session = smtplib.SMTP("127.0.0.1", stack.postfix.port, timeout=90)
    try:
        session.ehlo()
        assert session.mail("sender@example.test")[0] == 250
        assert session.rcpt("user@example.test")[0] == 250
        session.putcmd("data")
        assert session.getreply()[0] == 354
        session.send(b"Subject: half a message\r\n\r\nthe rest never comes\r\n")
        wait_until(lambda: "in-flight 1" in stack.daemon.control("status").stdout, 10,
                   "the daemon to see the message")
        yield
    finally:
        session.close()


def test_a_second_sigterm_stops_at_once_though_a_message_is_in_flight(
        make_stack: Callable[..., Stack]) -> None:
    """The first SIGTERM waits up to shutdown_grace for the message on the wire; the second is
    the administrator saying "now": the daemon exits in libmilter's few seconds of stopping, not
    after another grace period."""
    stack = make_stack(default_action="tempfail", shutdown_grace=60.0)
    proc = stack.daemon.proc
    assert proc is not None
    with _message_in_flight(stack):
        stack.daemon.signal(signal.SIGTERM)
        wait_until(lambda: "stopping after 1 message(s) in flight" in stack.daemon.stderr(), 15,
                   "the daemon to start draining")
        stack.daemon.signal(signal.SIGTERM)
        proc.wait(20)  # raises TimeoutExpired if it waits out the grace period instead
    assert "1 message(s) still in flight at exit" in stack.daemon.stderr()


def test_a_message_that_never_finishes_holds_the_stop_up_by_shutdown_grace_only(
        make_stack: Callable[..., Stack]) -> None:
    """README: after at most shutdown_grace seconds the daemon exits. libmilter serves no
    session once it has stopped, so a message still unfinished then is not waited for again."""
    stack = make_stack(default_action="tempfail", shutdown_grace=12.0)
    proc = stack.daemon.proc
    assert proc is not None
    with _message_in_flight(stack):
        started = time.monotonic()
        stack.daemon.signal(signal.SIGTERM)
        proc.wait(40)
        waited = time.monotonic() - started
    # the grace, then libmilter's stop (about 5 s); another grace period would make it 29 s
    assert 12.0 <= waited < 24.0, waited
    assert "still in flight after 12s" in stack.daemon.stderr()
