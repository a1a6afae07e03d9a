"""`postwarden serve`: the milter daemon around libmilter (the child of supervisor.py).

Signals, as libmilter leaves them: its own signal thread takes SIGTERM and SIGINT and treats
SIGHUP like SIGTERM, so this process takes its requests on other signals, relayed by the
supervising parent: SIGUSR1 reloads, SIGUSR2 drains and stops. They are seen through
``signal.set_wakeup_fd`` by a watcher thread (the main thread sits inside libmilter and never
runs Python signal handlers). `postwarden reload` uses the control socket instead, which can
answer whether the new configuration was taken.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import signal
import socket
import stat
import threading
import time
from pathlib import Path

import Milter
import milter

from postwarden import __version__
from postwarden.config import Config
from postwarden.metrics import serve_metrics
from postwarden.milter.callbacks import PostwardenMilter
from postwarden.milter.control import ControlError, ControlServer
from postwarden.milter.inflight import InFlight
from postwarden.milter.socketspec import SocketSpec, parse_socket_spec
from postwarden.milter.supervisor import DRAIN_SIGNAL, RELOAD_SIGNAL
from postwarden.osuser import user_name
from postwarden.runtime import Runtime

log = logging.getLogger("postwarden.daemon")



class StartupError(Exception):
    """The daemon cannot start; the text says what to fix."""


def _register_callbacks() -> None:
    """Wire libmilter to per-connection objects made by ``Milter.factory``."""
    milter.set_connect_callback(Milter.connect_callback)
    milter.set_helo_callback(lambda ctx, host: ctx.getpriv().hello(host))
    milter.set_envfrom_callback(lambda ctx, *b: ctx.getpriv().envfrom_bytes(*b))
    milter.set_envrcpt_callback(lambda ctx, *b: ctx.getpriv().envrcpt_bytes(*b))
    milter.set_header_callback(lambda ctx, f, v: ctx.getpriv().header_bytes(f, v))
    milter.set_eoh_callback(lambda ctx: ctx.getpriv().eoh())
    milter.set_body_callback(lambda ctx, chunk: ctx.getpriv().body(chunk))
    milter.set_eom_callback(lambda ctx: ctx.getpriv().eom())
    milter.set_abort_callback(lambda ctx: ctx.getpriv().abort())
    milter.set_close_callback(Milter.close_callback)


def _prepare_unix_path(spec: SocketSpec, config: Config) -> None:
    path = Path(spec.path)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, mode=0o750)
        _chown(path.parent, config.milter.socket_owner)
    if path.exists() and not stat.S_ISSOCK(path.stat().st_mode):
        raise StartupError(f"{path} exists and is not a socket; refusing to replace it")


def _chown(path: Path, owner: str | None) -> None:
    if not owner:
        return
    user, _, group = owner.partition(":")
    try:
        uid = pwd.getpwnam(user).pw_uid if user else -1
        gid = grp.getgrnam(group).gr_gid if group else -1
    except KeyError:
        raise StartupError(f"milter.socket_owner: no such user or group {owner!r}") from None
    try:
        os.chown(path, uid, gid)
    except PermissionError:
        me = user_name(os.geteuid())
        raise StartupError(
            f"milter.socket_owner {owner!r}: running as {me}, postwarden can give {path} only to its own "
            f"user and to a group it belongs to: use ':GROUP' (the systemd unit adds the postfix "
            f"group) or null") from None


def _set_nodelay(spec: SocketSpec) -> int:
    """Set TCP_NODELAY on libmilter's listening socket (accepted sockets inherit it).

    libmilter has no option for it and pymilter does not expose the descriptor, so find it
    among our own descriptors by what it is bound to. Without it every reply waits for the
    peer's delayed ACK (about 40 ms, twice per message).
    """
    changed = 0
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            try:
                listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                bound = sock.getsockname()
            except OSError:
                continue
            if (listening and sock.family in (socket.AF_INET, socket.AF_INET6)
                    and isinstance(bound, tuple) and bound[1] == spec.port):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                changed += 1
    return changed


class _SignalWatcher:
    """Reads signal numbers from the wakeup pipe: SIGUSR1 reloads, SIGUSR2 drains and stops."""

    def __init__(self, runtime: Runtime, inflight: InFlight):
        self.runtime = runtime
        self.inflight = inflight
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self._drain_started = threading.Event()

    def install(self, parent_fd: int | None) -> None:
        for signum in (RELOAD_SIGNAL, DRAIN_SIGNAL):
            signal.signal(signum, lambda *_: None)
        signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        threading.Thread(target=self._run, name="signals", daemon=True).start()
        if parent_fd is not None:
            threading.Thread(target=self._watch_parent, args=(parent_fd,), name="parent",
                             daemon=True).start()
        # Delivered from now on (requests sent before this waited, blocked).
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {RELOAD_SIGNAL, DRAIN_SIGNAL})

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self.read_fd, 64)
            except OSError:
                return
            if not data:
                return
            if RELOAD_SIGNAL in data:
                log.info("reload requested by signal")
                self.runtime.reload()
            if DRAIN_SIGNAL in data:
                self.drain("stop requested by signal")

    def _watch_parent(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 64):
                pass
        self.drain("the supervising process is gone")

    def drain(self, why: str) -> None:
        """Defer new messages, let those in flight finish, then stop libmilter."""
        if self._drain_started.is_set():
            return
        self._drain_started.set()
        self.inflight.draining = True
        grace = self.runtime.current.config.shutdown_grace
        log.info("%s: stopping after %d message(s) in flight (at most %.0fs)", why,
                 self.inflight.count, grace)

        def finish() -> None:
            if not self.inflight.wait_idle(grace):
                log.warning("%d message(s) still in flight after %.0fs", self.inflight.count, grace)
            milter.stop()

        threading.Thread(target=finish, name="drain", daemon=True).start()


def _status(runtime: Runtime, inflight: InFlight, started: float) -> tuple[bool, str]:
    bundle = runtime.current
    return True, (f"postwarden {__version__} pid {os.getpid()} up {time.time() - started:.0f}s "
                  f"generation {bundle.generation} in-flight {inflight.count}"
                  + (f" last-reload-error {runtime.last_reload_error!r}"
                     if runtime.last_reload_error else ""))


def serve(runtime: Runtime, parent_fd: int | None = None) -> int:
    config = runtime.current.config
    spec = parse_socket_spec(config.milter.socket)
    inflight = InFlight()
    started = time.time()
    # Run only in run_supervised's child, which blocked LIBMILTER_SIGNALS before any thread
    # existed: every thread started here inherits that mask.
    control = ControlServer(config.control_socket, {
        "reload": runtime.reload,
        "status": lambda: _status(runtime, inflight, started),
    })
    try:
        control.start()
    except (ControlError, OSError) as exc:
        raise StartupError(f"control_socket: {exc}") from None
    _SignalWatcher(runtime, inflight).install(parent_fd)
    if config.metrics.listen:
        try:
            serve_metrics(config.metrics.listen)
        except OSError as exc:
            control.stop()
            raise StartupError(f"metrics.listen {config.metrics.listen}: {exc.strerror or exc}") from None

    Milter.factory = lambda: PostwardenMilter(runtime, inflight)
    _register_callbacks()
    if spec.family == "unix":
        _prepare_unix_path(spec, config)
    milter.setconn(spec.libmilter)
    milter.settimeout(config.milter.timeout)
    milter.register(config.milter.name, data=lambda ctx: ctx.getpriv().data(),
                    unknown=lambda ctx, cmd: ctx.getpriv().unknown(cmd),
                    negotiate=Milter.negotiate_callback)
    try:
        milter.opensocket(True)
    except milter.error as exc:
        control.stop()
        raise StartupError(
            f"milter.socket {config.milter.socket}: cannot listen ({exc}); is another milter "
            "using it, or did a stopped one not exit yet?") from None
    if spec.family == "unix":
        os.chmod(spec.path, int(config.milter.socket_mode, 8))
        _chown(Path(spec.path), config.milter.socket_owner)
    elif not _set_nodelay(spec):
        log.warning("could not set TCP_NODELAY on %s; replies may stall", spec.libmilter)
    log.info("postwarden %s listening on %s (Postfix: smtpd_milters = %s)",
             __version__, spec.libmilter, spec.postfix())
    try:
        milter.main()
    finally:
        # No waiting here: libmilter serves no session once main() has returned, so a message
        # still counted now (the drain's grace ran out, or a second SIGTERM stopped libmilter at
        # once) can never finish, and waiting for it held the exit up by another grace period.
        idle = inflight.count == 0
        if not idle:
            log.warning("%d message(s) still in flight at exit", inflight.count)
        control.stop()
        if spec.family == "unix":
            with contextlib.suppress(FileNotFoundError):
                Path(spec.path).unlink()
        if idle:  # the history store's connections; never under a message still running
            runtime.close()
    log.info("stopped")
    return 0
