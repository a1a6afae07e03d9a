"""The control socket: `postwarden reload` and `postwarden status` talk to the daemon here.

A signal cannot carry an answer back; this socket can, so `postwarden reload` (and therefore
`systemctl reload`) exits non-zero and prints the located errors when the new configuration is
refused. One line in (a command), one line out (``ok ...`` or ``error ...``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("postwarden.control")


class ControlError(Exception):
    pass


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(1024).decode("utf-8", "replace").strip()
        commands: dict[str, Callable[[], tuple[bool, str]]] = self.server.commands  # type: ignore[attr-defined]
        command = commands.get(line)
        if command is None:
            ok, text = False, f"unknown command {line!r}; known: {', '.join(sorted(commands))}"
        else:
            try:
                ok, text = command()
            except Exception as exc:
                log.exception("control command %s failed", line)
                ok, text = False, f"{type(exc).__name__}: {exc}"
        payload = json.dumps({"ok": ok, "message": text})
        self.wfile.write(payload.encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class ControlServer:
    def __init__(self, path: str, commands: dict[str, Callable[[], tuple[bool, str]]]):
        self.path = path
        self.commands = commands
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            try:
                send_command(self.path, "status", timeout=1.0)
            except ControlError:
                target.unlink()  # stale socket of a daemon that is gone
            else:
                raise ControlError(f"{self.path}: another postwarden daemon answers here")
        old_umask = os.umask(0o177)
        try:
            self._server = _Server(self.path, _Handler)
        finally:
            os.umask(old_umask)
        self._server.commands = self.commands  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="control",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                Path(self.path).unlink()


def send_command(path: str, command: str, timeout: float = 30.0) -> tuple[bool, str]:
    """Send one command to a running daemon; raise ControlError if none answers."""
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(command.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n") and time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ControlError(f"no postwarden daemon answers on {path}: {exc.strerror or exc}") from None
    try:
        reply = json.loads(data)
        return bool(reply["ok"]), str(reply["message"])
    except (ValueError, KeyError, TypeError):
        raise ControlError(f"garbled answer from {path}: {data[:200]!r}") from None
