"""Build the recipient-history check from the configuration, or say exactly why not.

Problems here (no secret in hashed mode, an unreadable secret file, a store that cannot be
opened, a weights file for other features) raise ConfigError, so `postwarden serve` refuses to
start and a reload keeps the running bundle.
"""

from __future__ import annotations

from pathlib import Path

from postwarden.config import Config, ConfigError
from postwarden.misdirection.check import RecipientHistoryCheck
from postwarden.misdirection.history import RecipientHistory
from postwarden.misdirection.model import ModelError, load_weights
from postwarden.stores import StoreError, open_store
from postwarden.stores.base import HistoryStore

SECTION = "recipient_history"


def site_secret(config: Config) -> str | None:
    """The hashing key, or None in plain mode; raises ConfigError when hashed mode has none."""
    s = config.recipient_history
    if not s.hashed:
        return None
    if s.secret_file:
        try:
            secret = Path(s.secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{SECTION}.secret_file: cannot read {s.secret_file}: {exc}") from None
    else:
        secret = s.secret or ""
    if len(secret) < 16:
        raise ConfigError(f"{SECTION}: hashed is true, so set secret or secret_file to a site secret of "
                          f"at least 16 characters (or hashed: false to store addresses in clear)")
    return secret


def open_history_store(config: Config) -> HistoryStore:
    s = config.recipient_history
    try:
        return open_store(s.store, path=s.sqlite_path, url=s.redis_url, prefix=s.redis_prefix,
                          ttl=s.horizon_days * 86400.0)
    except StoreError as exc:
        raise ConfigError(f"{SECTION}.store: {exc}") from None


def build_history(config: Config) -> RecipientHistory:
    s = config.recipient_history
    secret = site_secret(config)
    return RecipientHistory(open_history_store(config), secret, s.half_life_days, s.horizon_days,
                            config.local_domains)


def build_check(config: Config) -> RecipientHistoryCheck:
    s = config.recipient_history
    try:
        weights = load_weights(s.weights)
    except ModelError as exc:
        raise ConfigError(f"{SECTION}.weights: {exc}") from None
    return RecipientHistoryCheck(s, build_history(config), weights)
