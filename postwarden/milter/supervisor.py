"""A small parent process that owns the signals, so SIGTERM drains and SIGHUP reloads.

libmilter claims SIGHUP, SIGTERM and SIGINT in the process it runs in: its signal thread stops
the milter on SIGTERM and on SIGHUP alike, and Debian's libmilter (built with its worker pool)
drops sessions that are between two commands the moment it stops, so a message still on the
wire would get Postfix's milter_default_action instead of its verdict. `postwarden serve`
therefore forks: the child runs libmilter, the parent (the process systemd and administrators
signal) turns signals into requests the child can honour:

    SIGTERM, SIGINT   -> SIGUSR2 to the child: refuse new messages, let the ones in flight
                         finish (up to shutdown_grace), then stop. A second one stops at once.
    SIGHUP, SIGUSR1   -> SIGUSR1 to the child: reload the configuration.

The child also stops (draining) when the parent disappears, seen as end-of-file on a pipe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType

RELOAD_SIGNAL = signal.SIGUSR1
DRAIN_SIGNAL = signal.SIGUSR2
# libmilter's signal thread sigwaits these; any other thread that left them unblocked could take
# one with the default action and kill the process outright.
LIBMILTER_SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT}
CHILD_BLOCKED = LIBMILTER_SIGNALS | {RELOAD_SIGNAL, DRAIN_SIGNAL}


def run_supervised(child: Callable[[int], int]) -> int:
    """Run ``child(parent_fd)`` in a forked process and relay signals to it; return its status.

    Call this before any thread exists (fork keeps only the calling thread).
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_fd)
        # Its own process group: a terminal's Ctrl-C reaches the parent only (which drains),
        # not libmilter's signal thread (which would abort at once).
        os.setpgid(0, 0)
        # Until the child has its handlers, requests wait instead of killing it; libmilter's
        # own signals stay blocked in every thread but its signal thread.
        signal.pthread_sigmask(signal.SIG_BLOCK, CHILD_BLOCKED)
        try:
            code = child(read_fd)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(read_fd)
    stopping = False

    def relay(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        relay(signal.SIGTERM if stopping else DRAIN_SIGNAL)
        stopping = True

    def on_reload(signum: int, frame: FrameType | None) -> None:
        relay(RELOAD_SIGNAL)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_stop)
    for signum in (signal.SIGHUP, RELOAD_SIGNAL):
        signal.signal(signum, on_reload)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 1
    os.close(write_fd)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code
