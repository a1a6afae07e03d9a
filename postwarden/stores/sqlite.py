"""The embedded store: one SQLite file in WAL mode, a small pool of connections.

Why it is safe under the milter's threads and a crash at any point: a connection is used by one
thread at a time (taken from the pool for one operation, or for a whole batch), writes run in
``BEGIN IMMEDIATE`` transactions so two threads never interleave a read-modify-write, WAL lets
readers go on while one thread writes, and ``busy_timeout`` makes a writer wait for the lock
instead of failing. With ``synchronous=NORMAL`` in WAL mode a crash or power loss can lose the
last transactions but never corrupts the file: history is advisory, losing the last second of
learning is acceptable, a corrupt history is not.

A pool rather than one connection per thread: libmilter starts a thread per SMTP connection,
so per-thread connections would pile up; the pool holds as many as were ever used at once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence

from postwarden.stores.base import Entry, HistoryStore, Key, StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    bucket TEXT NOT NULL, member TEXT NOT NULL,
    weight REAL NOT NULL, count INTEGER NOT NULL, last REAL NOT NULL,
    PRIMARY KEY (bucket, member)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fields (
    bucket TEXT NOT NULL, field TEXT NOT NULL, value BLOB NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (bucket, field)) WITHOUT ROWID;
"""
# No index on last/at: purge is a rare maintenance scan, and every index slows each learn.

# The same arithmetic as base.bumped, in SQL, so a bump is one statement per key.
BUMP = """
INSERT INTO counters (bucket, member, weight, count, last) VALUES (?1, ?2, 1.0, 1, ?3)
ON CONFLICT (bucket, member) DO UPDATE SET
    weight = CASE
        WHEN ?4 <= 0 THEN weight + 1.0
        WHEN ?3 >= last THEN weight * pow(2.0, -(?3 - last) / ?4) + 1.0
        ELSE weight + pow(2.0, -(last - ?3) / ?4) END,
    count = count + 1,
    last = max(last, ?3)
"""
PUT = ("INSERT INTO fields (bucket, field, value, at) VALUES (?, ?, ?, ?) "
       "ON CONFLICT (bucket, field) DO UPDATE SET value = excluded.value, at = excluded.at")
CACHE_KIB = 256 * 1024  # page cache per connection (SQLite allocates it only as pages are read)
CHUNK = 400  # keys per SELECT: well under SQLite's 32766 host parameters
UNION = 40  # SELECTs per statement (SQLite allows 500 terms in a compound SELECT)


class SqliteStore(HistoryStore):
    def __init__(self, path: str):
        self.path = path
        self._memory = path == ":memory:"
        self._lock = threading.RLock()  # guards the pool; serialises all use of a :memory: store
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._local = threading.local()
        if not self._memory:
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise StoreError(f"{path}: directory {parent} does not exist")
        try:
            with self._use() as conn:
                conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the history store: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        if not self._memory:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # the default 2 MiB thrashes on large histories
        self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """A connection for this thread alone: the batch's, or one from the pool."""
        held = getattr(self._local, "held", None)
        if held is not None:
            yield held
            return
        if self._memory:  # one in-memory database exists only on its one connection
            with self._lock:
                yield self._all[0] if self._all else self._connect()
            return
        with self._lock:
            conn = self._idle.pop() if self._idle else self._connect()
        try:
            yield conn
        finally:
            with self._lock:
                self._idle.append(conn)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes in one transaction (a message, an import): one commit for all."""
        if getattr(self._local, "held", None) is not None:
            yield
            return
        with self._use() as conn:
            conn.execute("BEGIN IMMEDIATE")
            self._local.held = conn
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._local.held = None

    def _write(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            with self.batch(), self._use() as conn:
                conn.executemany(sql, rows)

    def bump(self, keys: Iterable[Key], at: float, half_life: float) -> None:
        self._write(BUMP, [(bucket, member, float(at), float(half_life)) for bucket, member in keys])

    def put(self, items: Iterable[tuple[str, str, bytes]], at: float) -> None:
        self._write(PUT, [(bucket, field, sqlite3.Binary(value), float(at))
                          for bucket, field, value in items])

    def _select(self, table: str, column: str, cols: str, keys: Sequence[Key]) -> list[tuple]:
        """All keys in one statement: a UNION ALL of ``bucket = ? AND member IN (...)``, each
        a range scan of the primary key (one statement saves a round of Python overhead per
        bucket)."""
        groups: dict[str, list[str]] = {}
        for bucket, member in keys:
            groups.setdefault(bucket, []).append(member)
        parts: list[str] = []
        params: list[str] = []
        for bucket, members in groups.items():
            unique = list(dict.fromkeys(members))
            for start in range(0, len(unique), CHUNK):
                chunk = unique[start:start + CHUNK]
                parts.append(f"SELECT bucket, {column}, {cols} FROM {table} WHERE bucket = ? "
                             f"AND {column} IN ({','.join('?' * len(chunk))})")
                params += [bucket, *chunk]
        rows: list[tuple] = []
        with self._use() as conn:
            for start in range(0, len(parts), UNION):
                sql = " UNION ALL ".join(parts[start:start + UNION])
                count = sum(p.count("?") for p in parts[start:start + UNION])
                rows.extend(conn.execute(sql, params[:count]).fetchall())
                params = params[count:]
        return rows

    def counters(self, keys: Sequence[Key]) -> dict[Key, Entry]:
        return {(b, m): Entry(w, n, t)
                for b, m, w, n, t in self._select("counters", "member", "weight, count, last", keys)}

    def get(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        return {(b, f): bytes(v) for b, f, v in self._select("fields", "field", "value", keys)}

    def members(self, bucket: str) -> dict[str, Entry]:
        with self._use() as conn:
            rows = conn.execute(
                "SELECT member, weight, count, last FROM counters WHERE bucket = ?", (bucket,)).fetchall()
        return {m: Entry(w, n, t) for m, w, n, t in rows}

    def purge(self, before: float) -> int:
        with self.batch(), self._use() as conn:
            removed = conn.execute("DELETE FROM counters WHERE last < ?", (before,)).rowcount
            removed += conn.execute("DELETE FROM fields WHERE at < ?", (before,)).rowcount
        return removed

    def connections(self) -> int:
        """How many connections the pool opened (at most the concurrency it has seen)."""
        return len(self._all)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._idle.clear()
