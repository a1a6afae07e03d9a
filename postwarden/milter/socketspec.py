"""Milter socket specifications as libmilter and Postfix spell them.

libmilter writes ``inet:PORT@HOST``, ``inet6:PORT@HOST`` and ``unix:/path``; Postfix writes
``inet:HOST:PORT`` and resolves relative unix paths against its queue directory (which is also
the chroot of smtpd and cleanup on Debian). Keeping both spellings in one place stops the two
from being confused in the config, the docs and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal


@dataclass(frozen=True)
class SocketSpec:
    family: Literal["unix", "inet", "inet6"]
    path: str = ""
    host: str = ""
    port: int = 0

    @property
    def libmilter(self) -> str:
        if self.family == "unix":
            return f"unix:{self.path}"
        return f"{self.family}:{self.port}@{self.host}"

    def postfix(self, queue_directory: str = "/var/spool/postfix") -> str:
        """The ``smtpd_milters`` value that reaches this socket from (chrooted) Postfix."""
        if self.family == "unix":
            path = PurePosixPath(self.path)
            queue = PurePosixPath(queue_directory)
            if path.is_relative_to(queue):
                return f"unix:{path.relative_to(queue)}"
            return f"unix:{path}"
        host = f"[{self.host}]" if self.family == "inet6" else self.host
        return f"inet:{host}:{self.port}"


def parse_socket_spec(text: str) -> SocketSpec:
    """Parse a libmilter socket spec; raise ValueError with the accepted forms."""
    family, sep, rest = text.partition(":")
    if not sep:
        raise ValueError(f"expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST, got {text!r}")
    if family in ("unix", "local"):
        if not rest.startswith("/"):
            raise ValueError(f"a unix socket needs an absolute path, got {rest!r}")
        return SocketSpec("unix", path=rest)
    if family in ("inet", "inet6"):
        port_text, at, host = rest.partition("@")
        if not at or not host:
            raise ValueError(f"expected {family}:PORT@HOST (libmilter's order), got {text!r}")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"port must be 1-65535, got {port_text!r}")
        return SocketSpec(family, host=host.strip("[]"), port=int(port_text))  # type: ignore[arg-type]
    raise ValueError(f"unknown socket family {family!r}: use unix, inet or inet6")


def check_socket_spec(text: str) -> str | None:
    try:
        parse_socket_spec(text)
    except ValueError as exc:
        return str(exc)
    return None
