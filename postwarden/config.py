"""The daemon's settings: one frozen tree, validated on load, with its documentation in place.

Every setting is declared once, here, with its default and its doc string; ``config/postwarden.yaml``
is the operator's copy of the same defaults and a test keeps the two in step. A missing file
section means "all defaults", so a minimal config is an empty file.
"""

from __future__ import annotations

import grp
import ipaddress
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


def _existing_directory(value: str | None) -> str | None:
    """A rules directory that is not there is named at its line in the config, where the
    operator wrote it, rather than later by the rule loader without a line."""
    if value is None or Path(value).is_dir():
        return None
    return f"no such directory: {value}"


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


def _authserv_ids(values: list[str]) -> str | None:
    for value in values:
        if not re.fullmatch(r"[!-~]+", value) or any(c in value for c in ';()"'):
            return f"expected an authserv-id such as mx.example.com (one word, no ; ( ) or \"), got {value!r}"
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
        ":postfix",
        "user[:group] that owns a unix socket (Postfix's smtpd must be able to write to it). "
        "The default gives it to the postfix group and leaves the user the daemon's own, which "
        "works as root and as an unprivileged user in that group (the systemd unit); only root "
        "may name another user. null leaves both to the daemon.",
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
    queue_id: bool = setting(
        True,
        "End every reject and tempfail text with the MTA's queue id ('(queue id 4XyZ1k2)'), "
        "which the sender's bounce shows: quoted to the postmaster, it finds the decision in "
        "the logs (Postfix's milter-reject line and postwarden's decision line carry it).",
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


def _ip_addresses(values: list[str]) -> str | None:
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f"expected IP addresses such as 127.0.0.1 or ::1, got {value!r}"
    return None


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else f"expected a port from 1 to 65535, got {value!r}"


@dataclass(frozen=True)
class RulesDnsSettings:
    enabled: bool = setting(
        True, "Ask the DNS lists that rules name (dnsbl, uribl); false makes those conditions "
        "never match."
    )
    nameservers: list[str] = setting(
        [],
        "Resolver addresses to ask; empty uses /etc/resolv.conf. Use a local caching resolver: "
        "DNS lists refuse queries that come through large public resolvers.",
        _ip_addresses,
    )
    port: int = setting(53, "Port the nameservers listen on.", _port)
    timeout: float = setting(1.0, "Seconds one DNS-list query may take at most.", _positive)
    budget: float = setting(
        2.0,
        "Seconds all DNS-list queries of one message may take together; once spent, the rest "
        "are non-hits and the reasons say DNS_TIMEOUT.",
        _positive,
    )
    cache_entries: int = setting(
        10000, "Answers kept (for their TTL) in the cache all connections share.", _positive
    )


@dataclass(frozen=True)
class RulesSettings:
    enabled: bool = setting(True, "Run the YAML rules.")
    directory: str | None = setting(
        None,
        "The rules directory; null is the default pack shipped with postwarden (package data "
        "postwarden/data/rules). Check a directory with: postwarden check-rules DIR",
        _existing_directory,
    )
    local_directory: str | None = setting(
        None,
        "A second directory loaded after `directory`, for site rules and `override: true` "
        "changes to shipped ones (such as enabled: false); null for none.",
        _existing_directory,
    )
    watch: bool = setting(
        False,
        "Reload (like `postwarden reload`) when a file in the rules directories changes, "
        "including the atomic rename editors and deploy tools do.",
    )
    watch_interval: float = setting(2.0, "Seconds between checks for changed rule files.", _positive)
    dns: RulesDnsSettings = setting(RulesDnsSettings(), "DNS lists (dnsbl and uribl conditions).")


def _redis_url(value: str) -> str | None:
    if not re.match(r"^(redis|rediss|unix)://", value):
        return f"expected redis://host:port/db, rediss://... or unix:///path, got {value!r}"
    return None


def _marker(value: str) -> str | None:
    return _reply_text(value) if value else None


@dataclass(frozen=True)
class RecipientHistorySettings:
    enabled: bool = setting(
        False,
        "Score the recipients of outbound mail against each sender's history and stop likely "
        "misdirected mail. Off until a store and a site secret are set; bootstrap with "
        "`postwarden history import` and try shadow mode first.",
    )
    store: Literal["sqlite", "redis"] = setting(
        "sqlite", "sqlite (one file, one node) or redis (several milter nodes share one history)."
    )
    sqlite_path: str = setting(
        "/var/lib/postwarden/history.sqlite", "The SQLite history file (WAL mode; its directory must exist)."
    )
    redis_url: str = setting("redis://127.0.0.1:6379/0", "Redis to use when store is redis.", _redis_url)
    redis_prefix: str = setting("postwarden:rh:", "Prefix of every Redis key the history writes.")
    hashed: bool = setting(
        True,
        "Store addresses, domains and names only as keyed hashes (BLAKE2b with the site secret). "
        "Scoring is the same; a reply can still name the resembled contact for one-typo and "
        "lookalike mistakes, but not for a same-first-name contact. false stores them in clear.",
    )
    secret: str | None = setting(None, "The site secret for hashed mode (16 characters or more).")
    secret_file: str | None = setting(None, "A file holding the site secret instead (wins over secret).")
    half_life_days: float = setting(
        180.0, "Counts halve every this many days, so old contacts weigh less than daily ones.", _positive
    )
    horizon_days: float = setting(
        730.0, "A contact not written to for this long is forgotten (0 keeps everything).",
        lambda v: None if v >= 0 else f"expected 0 or more, got {v!r}",
    )
    action: Literal["reject", "quarantine"] = setting(
        "reject", "reject (550 5.7.1 at end of message, the sender sees why) or quarantine (hold queue)."
    )
    shadow: bool = setting(False, "Score and log only, never act: measure false alarms first.")
    threshold: float | None = setting(
        None,
        "Recipient score (0..1) from which a recipient is flagged; null uses the shipped model's "
        "0.5 percent false-flag point.",
        lambda v: None if v is None or 0 < v < 1 else f"expected a number between 0 and 1, got {v!r}",
    )
    min_sender_messages: int = setting(
        10, "Senders with fewer learned messages than this are not scored (no history yet).",
        lambda v: None if v >= 0 else f"expected 0 or more, got {v!r}",
    )
    send_anyway_minutes: int = setting(
        60, "Sending the same message (subject and recipients) again within this many minutes "
        "of a stop sends it anyway (0 turns this off).",
        lambda v: None if v >= 0 else f"expected 0 or more, got {v!r}",
    )
    confirm_marker: str = setting(
        "[send anyway]", "Text that, in the subject, sends a message anyway (empty turns this off).", _marker
    )
    learn: bool = setting(True, "Learn from every delivered outbound message.")
    check_mx: bool = setting(
        True, "Look up the MX of recipient domains nobody here wrote to before; a domain that "
        "cannot receive mail flags its recipient."
    )
    mx_timeout: float = setting(
        0.5, "Seconds an MX look-up may take; a slower answer says nothing.", _positive
    )
    mx_nameservers: list[str] = setting(
        [], "Resolver addresses for the MX look-ups; empty uses /etc/resolv.conf.", _ip_addresses
    )
    mx_port: int = setting(53, "Port the MX look-ups' nameservers listen on.", _port)
    weights: str | None = setting(
        None, "A weights file from scripts/train_misdirection.py; null uses the shipped one."
    )


def _probability(value: float | None) -> str | None:
    if value is None or 0.0 < value < 1.0:
        return None
    return f"expected a probability between 0 and 1 (exclusive), or null, got {value!r}"


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else f"expected zero or a positive number, got {value!r}"


def _model_version(value: str) -> str | None:
    from postwarden.classifiers.model_store import check_version_name

    return check_version_name(value)


@dataclass(frozen=True)
class ModelSettings:
    enabled: bool = setting(True, "Score inbound mail with the text models (spam and phishing heads).")
    directory: str = setting(
        "/var/lib/postwarden/models",
        "Trusted directory of model versions written by `postwarden learn` (and the CURRENT "
        "pointer of `postwarden model use`). Model files are joblib, which can run code when "
        "loaded: postwarden loads them only from here and from its own shipped-model directory.",
    )
    version: str = setting(
        "current",
        "current (the version `postwarden model use` chose; the shipped model until then), "
        "default (always the shipped model) or a version name in the directory.",
        _model_version,
    )
    spam_threshold: float | None = setting(
        None, "p(spam) from which the spam head adds score; null uses the model's own threshold "
        "(chosen on validation data for a 0.1 percent false-positive rate).", _probability,
    )
    phish_threshold: float | None = setting(
        None, "p(phish) from which the phishing head adds score; null uses the model's own "
        "threshold (chosen for a 0.5 percent false-positive rate).", _probability,
    )
    other_language_threshold: float = setting(
        0.9, "Threshold of both heads for mail not written in English (under 3 percent common "
        "English words): the shipped models learnt from English mail, so for other languages "
        "they judge only when they are sure; 1 leaves such mail to the rules. "
        "A head's own threshold applies when it is higher.", _probability,
    )
    spam_score: float = setting(
        6.0, "Score added when p(spam) reaches its threshold; it grows linearly to spam_score_max "
        "at p = 1.", _non_negative,
    )
    spam_score_max: float = setting(12.0, "Score added at p(spam) = 1.", _non_negative)
    phish_score: float = setting(8.0, "Score added when p(phish) reaches its threshold.", _non_negative)
    phish_score_max: float = setting(14.0, "Score added at p(phish) = 1.", _non_negative)
    outbound: bool = setting(False, "Score outbound mail too (the models are trained on inbound mail).")
    top_features: int = setting(
        5, "How many of the strongest features each head names in its reason.", _positive
    )
    learn_margin: float = setting(
        0.005,
        "`postwarden learn` refuses a new version whose held-out error rate is worse than the "
        "running version's by more than this (unless --force).",
        _non_negative,
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
    trusted_authserv_ids: list[str] = setting(
        [],
        "Authentication-Results headers the rules read (auth_result): those whose authserv-id, "
        "the first word of the header, is listed here. Name what your OpenDKIM, OpenDMARC or "
        "SPF checker writes there (their AuthservID, usually this host's name). Anyone can write "
        "the header, so by default none is read.",
        _authserv_ids,
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
    models: ModelSettings = setting(ModelSettings(), "The spam and phishing text models.")
    recipient_history: RecipientHistorySettings = setting(
        RecipientHistorySettings(), "Misdirected outbound mail: the recipient-history model."
    )
    rules: RulesSettings = setting(RulesSettings(), "The YAML rule layer.")
    metrics: MetricsSettings = setting(MetricsSettings(), "The Prometheus exporter.")


class ConfigError(Exception):
    """A configuration that cannot be used; the text lists every problem, located."""


def _cross_checks(config: Config, filename: str) -> list[str]:
    problems = []
    t = config.thresholds
    if not t.tag <= t.quarantine <= t.reject:
        problems.append(f"{filename}: thresholds: expected tag <= quarantine <= reject, got "
                        f"{t.tag} / {t.quarantine} / {t.reject}")
    m = config.models
    for head in ("spam", "phish"):
        low, high = getattr(m, f"{head}_score"), getattr(m, f"{head}_score_max")
        if low > high:
            problems.append(f"{filename}: models: expected {head}_score <= {head}_score_max, got "
                            f"{low} / {high}")
    return problems


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
