"""The daemon's settings: one frozen tree, validated on load, with its documentation in place.

Every setting is declared once, here, with its default and its doc string; ``config/postwarden.yaml``
is the operator's copy of the same defaults and a test keeps the two in step. A missing file
section means "all defaults", so a minimal config is an empty file.
"""

from __future__ import annotations

import grp
import pwd
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from postwarden.metrics import check_listen
from postwarden.milter.socketspec import check_socket_spec
from postwarden.netaddr import check_networks
from postwarden.schema import SchemaError, load_dataclass, setting

ErrorAction = Literal["accept", "tempfail"]


def _octal_mode(value: str) -> str | None:
    if not re.fullmatch(r"0?[0-7]{3}", value):
        return f"expected an octal file mode such as 0660, got {value!r}"
    return None


def _owner(value: str | None) -> str | None:
    if value is None:
        return None
    user, _, group = value.partition(":")
    try:
        if user:
            pwd.getpwnam(user)
        if group:
            grp.getgrnam(group)
    except KeyError:
        return f"no such user or group on this system: {value!r}"
    return None


def _positive(value: float) -> str | None:
    return None if value > 0 else f"expected a positive number, got {value!r}"


def _reply_text(value: str) -> str | None:
    if "%" in value:
        return "a '%' in SMTP reply text makes libmilter drop the reply; write 'percent'"
    if not value.isascii() or any(c in value for c in "\r\n"):
        return "SMTP reply text must be printable ASCII on one line"
    return None


def _domains(values: list[str]) -> str | None:
    for value in values:
        if not re.fullmatch(r"(?i)[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", value) or ".." in value:
            return f"expected a domain name such as example.com, got {value!r}"
    return None


@dataclass(frozen=True)
class MilterSettings:
    socket: str = setting(
        "unix:/var/spool/postfix/postwarden/postwarden.sock",
        "Where the milter listens, in libmilter's spelling: unix:/path, inet:PORT@HOST or "
        "inet6:PORT@HOST. The default lies inside Postfix's chroot, so smtpd_milters names it "
        "relative to the queue directory (unix:postwarden/postwarden.sock). TCP sockets get "
        "TCP_NODELAY so no reply waits on Nagle's algorithm.",
        check_socket_spec,
    )
    socket_mode: str = setting("0660", "File mode of a unix socket.", _octal_mode)
    socket_owner: str | None = setting(
        "postfix:postfix",
        "user[:group] that owns a unix socket (Postfix's smtpd must be able to write to it); "
        "null leaves it to the daemon's own user.",
        _owner,
    )
    timeout: int = setting(
        600, "Seconds libmilter waits on the MTA before giving up a connection.", _positive
    )
    name: str = setting("postwarden", "Milter name, as Sendmail's INPUT_MAIL_FILTER knows it.")


@dataclass(frozen=True)
class LogSettings:
    target: Literal["stderr", "syslog"] = setting(
        "stderr", "stderr (for systemd's journal or a supervisor) or syslog."
    )
    level: Literal["debug", "info", "warning", "error"] = setting("info", "Least severe level logged.")
    syslog_address: str = setting("/dev/log", "Syslog socket path when target is syslog.")
    syslog_facility: str = setting("mail", "Syslog facility when target is syslog.")
    decisions: bool = setting(True, "Log one JSON line per decision (logger postwarden.decision).")


@dataclass(frozen=True)
class ReplySettings:
    reject: str = setting(
        "Message rejected by policy", "Text after 550 5.7.1 when a message is rejected.", _reply_text
    )
    tempfail: str = setting(
        "Message deferred by policy, try again later",
        "Text after 451 4.7.1 when a message is deferred.",
        _reply_text,
    )
    error: str = setting(
        "Temporary filter failure, try again later",
        "Text after 451 4.3.0 when on_error is tempfail and the filter failed.",
        _reply_text,
    )


@dataclass(frozen=True)
class Thresholds:
    tag: float = setting(
        5.0, "From this score the message is accepted but its status header says spam."
    )
    quarantine: float = setting(10.0, "From this score the message goes to Postfix's hold queue.")
    reject: float = setting(15.0, "From this score the message is rejected with 550 5.7.1.")


@dataclass(frozen=True)
class HeaderSettings:
    reasons: bool = setting(
        True, "Add X-Postwarden-Reasons listing what contributed to the score."
    )
    strip_foreign: bool = setting(
        True,
        "Remove X-Postwarden-* headers that arrive with a message before adding ours, so no "
        "sender can forge a verdict.",
    )


@dataclass(frozen=True)
class GtubeSettings:
    enabled: bool = setting(
        True,
        "Act on the GTUBE test strings (the standard one rejects; postwarden's QUARANTINE, "
        "TEMPFAIL and DISCARD variants take those actions), so an installation can be checked "
        "end to end with a test message.",
    )


@dataclass(frozen=True)
class MetricsSettings:
    listen: str | None = setting(
        None,
        "HOST:PORT where Prometheus metrics are served (for example 127.0.0.1:9425); null turns "
        "the exporter off. Keep it on loopback or behind a firewall.",
        check_listen,
    )


@dataclass(frozen=True)
class Config:
    milter: MilterSettings = setting(MilterSettings(), "The milter socket.")
    control_socket: str = setting(
        "/run/postwarden/control.sock",
        "Unix socket where `postwarden reload` and `postwarden status` reach the daemon "
        "(mode 0600, owned by the daemon's user).",
    )
    log: LogSettings = setting(LogSettings(), "Logging.")
    internal_networks: list[str] = setting(
        ["127.0.0.0/8", "::1/128"],
        "Client networks whose mail is outbound (ours), besides authenticated clients.",
        check_networks,
    )
    local_domains: list[str] = setting(
        [], "Domains this site receives mail for (used by rules and the recipient history).", _domains
    )
    max_scan_bytes: int = setting(
        1048576,
        "Body bytes kept for scanning; larger messages are still decided on their first part.",
        _positive,
    )
    on_error: ErrorAction = setting(
        "tempfail",
        "What an internal error while deciding answers: tempfail (451 4.3.0, the sender "
        "retries) or accept (the message passes unfiltered).",
    )
    shutdown_grace: float = setting(
        30.0, "Seconds SIGTERM waits for messages in flight before the daemon exits.", _positive
    )
    reply: ReplySettings = setting(ReplySettings(), "SMTP reply texts.")
    thresholds: Thresholds = setting(Thresholds(), "Score thresholds of the policy.")
    headers: HeaderSettings = setting(HeaderSettings(), "Headers added to accepted mail.")
    gtube: GtubeSettings = setting(GtubeSettings(), "The GTUBE test strings.")
    metrics: MetricsSettings = setting(MetricsSettings(), "The Prometheus exporter.")


class ConfigError(Exception):
    """A configuration that cannot be used; the text lists every problem, located."""


def _cross_checks(config: Config, filename: str) -> list[str]:
    t = config.thresholds
    if not t.tag <= t.quarantine <= t.reject:
        return [f"{filename}: thresholds: expected tag <= quarantine <= reject, got "
                f"{t.tag} / {t.quarantine} / {t.reject}"]
    return []


def load_config(path: str | Path | None) -> Config:
    """Load and validate a config file; ``None`` gives the built-in defaults."""
    if path is None:
        return Config()
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{filename}: cannot read: {exc}") from None
    try:
        config = load_dataclass(Config, text, filename)
    except SchemaError as exc:
        raise ConfigError(str(exc)) from None
    problems = _cross_checks(config, filename)
    if problems:
        raise ConfigError("\n".join(problems))
    return config
