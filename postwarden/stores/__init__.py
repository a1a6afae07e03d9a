"""State stores: the recipient history (and later reputation) behind one small interface.

`open_store` picks the backend from the configured kind: the embedded SQLite store, or Redis so
several milter nodes share one history.
"""

from __future__ import annotations

from postwarden.stores.base import Entry, HistoryStore, StoreError


def open_store(kind: str, path: str = "", url: str = "", prefix: str = "pw:",
               ttl: float = 0.0) -> HistoryStore:
    """Open the configured store; raises StoreError when it cannot be reached."""
    if kind == "sqlite":
        from postwarden.stores.sqlite import SqliteStore

        return SqliteStore(path)
    if kind == "redis":
        from postwarden.stores.redis import RedisStore

        return RedisStore(url, prefix=prefix, ttl=ttl)
    if kind == "memory":
        from postwarden.stores.sqlite import SqliteStore

        return SqliteStore(":memory:")
    raise StoreError(f"unknown store kind {kind!r} (expected sqlite, redis or memory)")


__all__ = ["Entry", "HistoryStore", "StoreError", "open_store"]
