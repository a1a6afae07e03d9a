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

A look-up is one statement for up to 200 buckets (``_statement``); it uses SQLite's ``json_each``,
built in since SQLite 3.38 and part of the common builds before it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii

from postwarden.osuser import user_name
from postwarden.stores.base import (
    REF_OFFSET,
    Entry,
    Follow,
    Found,
    Group,
    HistoryStore,
    Key,
    StoreError,
    lookup_groups,
    referenced,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    bucket TEXT NOT NULL, member TEXT NOT NULL,
    weight REAL NOT NULL, count INTEGER NOT NULL, last REAL NOT NULL,
    PRIMARY KEY (bucket, member)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fields (
    bucket TEXT NOT NULL, field TEXT NOT NULL, value BLOB NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (bucket, field)) WITHOUT ROWID;
"""
# No index on last/at: purge is a maintenance pass (`postwarden history purge`), and every index
# slows each learn.

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
# Read pages in place (memory-mapped) rather than copying each into the page cache: a look-up
# touches ~150 random pages. SQLite caps this at its compile-time maximum (2 GiB in common
# builds); pages past it are read as before.
MMAP_BYTES = 1 << 34
PURGE_WINDOW = 20_000  # rows a purge reads at a time, outside any transaction (see purge)
MAX_BUCKETS = 200  # buckets per statement: SQLite allows 500 terms in a compound SELECT


# The member a reference field's value names (base.referenced): its bytes from offset 16 to a NUL.
_REF_TAIL = f"substr(x.value, {REF_OFFSET + 1})"
_REFERENCED = (f"CAST(CASE instr({_REF_TAIL}, x'00') WHEN 0 THEN {_REF_TAIL} "
               f"ELSE substr({_REF_TAIL}, 1, instr({_REF_TAIL}, x'00') - 1) END AS TEXT)")
# Columns: group, member, weight, count, last, value, and for a follow term the reference
# field's own value (the member is then the field's name, and the counter or value is that of
# what it names: NULL when that is gone, by LEFT JOIN, so the reference still comes back).
_TERMS = {  # {m} drives each term: one primary-key seek per member, no temporary index
    "c": "SELECT {g}, t.member, t.weight, t.count, t.last, NULL, NULL FROM {m} "
         "CROSS JOIN counters t ON t.bucket = ?{p} AND t.member = j.value",
    "f": "SELECT {g}, t.field, NULL, NULL, NULL, t.value, NULL FROM {m} "
         "CROSS JOIN fields t ON t.bucket = ?{p} AND t.field = j.value",
    "c>": "SELECT {g}, x.field, t.weight, t.count, t.last, NULL, x.value FROM {m} "
          "CROSS JOIN fields x ON x.bucket = ?{p} AND x.field = j.value "
          f"LEFT JOIN counters t ON t.bucket = ?{{r}} AND t.member = {_REFERENCED}",
    "f>": "SELECT {g}, x.field, NULL, NULL, NULL, t.value, x.value FROM {m} "
          "CROSS JOIN fields x ON x.bucket = ?{p} AND x.field = j.value "
          f"LEFT JOIN fields t ON t.bucket = ?{{r}} AND t.field = {_REFERENCED}",
}


def _json_list(members: list[str]) -> str:
    """``json.dumps(members)`` without the encoder object's per-call set-up (a dozen a message)."""
    return "[" + ",".join(map(encode_basestring_ascii, members)) + "]"


@functools.lru_cache(maxsize=256)
def _statement(kinds: tuple[tuple[str, int], ...]) -> str:
    """One SELECT for every group of a look-up, the members of each passed as one JSON array.

    Why JSON: the statement's text then depends only on the kinds of its groups, not on how many
    members each has, so the few texts a message produces stay prepared in the connection's
    statement cache, and a look-up of 150 keys is one execute and one fetch. In each term
    ``json_each`` drives a loop of primary-key seeks (CROSS JOIN fixes that order, so no
    temporary index is built); a follow term (kind "c>" or "f>") returns each reference field
    found with the entry it names joined to it. The first column, the group number, says which bucket a row
    came from without sending the bucket back. Parameters per group: bucket, members, and for a
    follow term the bucket followed into.

    Each kind comes with a count: 0 for the JSON array, else that many members as parameters of
    their own, for members JSON cannot carry into SQLite (a NUL character, which plain mode's
    thread keys have).
    """
    terms, n = [], 1
    for g, (kind, explicit) in enumerate(kinds):
        if explicit:
            rows = ", ".join(f"(?{n + 1 + i})" for i in range(explicit))
            members = f"(SELECT column1 AS value FROM (VALUES {rows})) j"
        else:
            members = f"json_each(?{n + 1}) j"
        width = explicit or 1
        terms.append(_TERMS[kind].format(g=g, m=members, p=n, r=n + 1 + width))
        n += 1 + width + (1 if kind.endswith(">") else 0)
    return " UNION ALL ".join(terms)


def _check_writable(path: str) -> None:
    """Refuse, naming the owner, a database this process cannot write: SQLite would open it and
    fail only at the first write, or in WAL mode at the first read, when it creates the -wal
    and -shm files beside it. The usual cause is `postwarden history import` run as root for a
    daemon that runs as its own user."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise StoreError(f"{path}: directory {parent} does not exist")
    me = user_name(os.geteuid())
    for target in (p for p in (path, f"{path}-wal", f"{path}-shm", parent) if os.path.exists(p)):
        if not os.access(target, os.W_OK):
            owner = user_name(os.stat(target).st_uid)
            raise StoreError(f"{target} is owned by {owner} and not writable by {me}, which runs "
                             f"postwarden: chown -R {me} {parent} (and run history import as {me})")


class SqliteStore(HistoryStore):
    def __init__(self, path: str):
        self.path = path
        self._memory = path == ":memory:"
        self._lock = threading.RLock()  # guards the pool; serialises all use of a :memory: store
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._local = threading.local()
        if not self._memory:
            _check_writable(path)
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
        if not self._memory:
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
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

    def lookup(self, counter_keys: Sequence[Key], field_keys: Sequence[Key],
               follow: Sequence[Follow] = ()) -> Found:
        return self.read(lookup_groups(counter_keys, field_keys, follow))

    def read(self, groups: Sequence[Group]) -> Found:
        """Counters, fields and followed references in one statement (see ``_statement``)."""
        counters: dict[Key, Entry] = {}
        fields: dict[Key, bytes] = {}
        if not groups:
            return counters, fields
        with self._use() as conn:
            for start in range(0, len(groups), MAX_BUCKETS):
                part = groups[start:start + MAX_BUCKETS]
                params: list[str] = []
                kinds: list[tuple[str, int]] = []
                for kind, bucket, members, target in part:
                    if "\0" in "".join(members):
                        kinds.append((kind, len(members)))
                        params += [bucket, *members, *((target,) if target else ())]
                    else:
                        kinds.append((kind, 0))
                        params += [bucket, _json_list(members), *((target,) if target else ())]
                rows = conn.execute(_statement(tuple(kinds)), params).fetchall()
                for group, member, weight, count, last, value, ref in rows:
                    kind, bucket, _, target = part[group]
                    if ref is not None:  # a followed reference, then what it names if that exists
                        fields[(bucket, member)] = ref
                        if weight is not None:
                            counters[(target, referenced(ref))] = Entry(weight, count, last)
                        elif value is not None:
                            fields[(target, referenced(ref))] = value
                    elif kind == "c":
                        counters[(bucket, member)] = Entry(weight, count, last)
                    else:
                        fields[(bucket, member)] = value
        return counters, fields

    def counters(self, keys: Sequence[Key]) -> dict[Key, Entry]:
        return self.lookup(keys, ())[0]

    def get(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        return self.lookup((), keys)[1]

    def members(self, bucket: str) -> dict[str, Entry]:
        with self._use() as conn:
            rows = conn.execute(
                "SELECT member, weight, count, last FROM counters WHERE bucket = ?", (bucket,)).fetchall()
        return {m: Entry(w, n, t) for m, w, n, t in rows}

    def purge(self, before: float) -> int:
        """One pass over each table in primary-key order, ``PURGE_WINDOW`` rows at a time, read
        outside any transaction (a WAL reader holds up no writer); only a window with stale rows
        takes the write lock, to delete those still stale then. A running daemon's writes so wait
        for one window's deletes at most, never for the scan of a whole file, which on a large
        history outlasts their busy timeout, and a row it refreshed meanwhile stays."""
        removed = 0
        for table, member, stamp in (("counters", "member", "last"), ("fields", "field", "at")):
            after: tuple[str, str] = ("", "")
            while True:
                with self._use() as conn:
                    rows = conn.execute(
                        f"SELECT bucket, {member}, {stamp} FROM {table} WHERE (bucket, {member}) > (?, ?) "
                        f"ORDER BY bucket, {member} LIMIT ?", (*after, PURGE_WINDOW)).fetchall()
                stale = [(b, m, before) for b, m, t in rows if t < before]
                if stale:
                    with self.batch(), self._use() as conn:
                        done = conn.total_changes
                        conn.executemany(f"DELETE FROM {table} WHERE bucket = ? AND {member} = ? "
                                         f"AND {stamp} < ?", stale)
                        removed += conn.total_changes - done
                if len(rows) < PURGE_WINDOW:
                    break
                after = rows[-1][:2]
        return removed

    def drop(self, buckets: Sequence[str], counters: Sequence[Key] = ()) -> int:
        with self.batch(), self._use() as conn:
            done = conn.total_changes
            for bucket in buckets:
                conn.execute("DELETE FROM counters WHERE bucket = ?", (bucket,))
                conn.execute("DELETE FROM fields WHERE bucket = ?", (bucket,))
            conn.executemany("DELETE FROM counters WHERE bucket = ? AND member = ?", counters)
            return conn.total_changes - done

    def export(self) -> Iterator[tuple[str, str, Entry | None, bytes, float]]:
        with self._use() as conn:
            for b, m, w, n, t in conn.execute("SELECT bucket, member, weight, count, last FROM counters"):
                yield b, m, Entry(w, n, t), b"", 0.0
            for b, f, v, t in conn.execute("SELECT bucket, field, value, at FROM fields"):
                yield b, f, None, bytes(v), t

    def restore(self, rows: Iterable[tuple[str, str, Entry | None, bytes, float]]) -> int:
        counters, fields = [], []
        for bucket, member, entry, value, at in rows:
            if entry is not None:
                counters.append((bucket, member, entry.weight, entry.count, entry.last))
            else:
                fields.append((bucket, member, sqlite3.Binary(value), at))
        with self.batch(), self._use() as conn:
            conn.executemany("INSERT OR REPLACE INTO counters VALUES (?, ?, ?, ?, ?)", counters)
            conn.executemany("INSERT OR REPLACE INTO fields VALUES (?, ?, ?, ?)", fields)
        return len(counters) + len(fields)

    def connections(self) -> int:
        """How many connections the pool opened (at most the concurrency it has seen)."""
        return len(self._all)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._idle.clear()
