"""The shared store: Redis, so several milter nodes learn and score against one history.

Layout: each bucket is one Redis hash under ``prefix + "c:" + bucket`` (counters, value
``"weight count last"``) or ``prefix + "f:" + bucket`` (fields: write time, then the bytes).
A bump is a Lua script,
so the read-decay-write of every counter in one message is atomic on the server and concurrent
nodes never lose an update. Every write refreshes the bucket's TTL to the configured horizon, so
Redis itself forgets senders and contacts nobody used for that long; ``purge`` additionally
removes stale members of live buckets.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import redis

from postwarden.stores.base import Entry, HistoryStore, Key, StoreError

# KEYS: hash keys; ARGV: at, half_life, ttl, then one member per key.
BUMP_LUA = """
local at = tonumber(ARGV[1])
local half = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
for i, key in ipairs(KEYS) do
    local member = ARGV[i + 3]
    local old = redis.call('HGET', key, member)
    local w, n, last = 1.0, 1, at
    if old then
        local ow, on, ol = string.match(old, '^(%S+) (%S+) (%S+)$')
        ow, on, ol = tonumber(ow), tonumber(on), tonumber(ol)
        n = on + 1
        if half <= 0 then
            w, last = ow + 1.0, math.max(ol, at)
        elseif at >= ol then
            w, last = ow * math.pow(2, -(at - ol) / half) + 1.0, at
        else
            w, last = ow + math.pow(2, -(ol - at) / half), ol
        end
    end
    redis.call('HSET', key, member, string.format('%.17g %d %.17g', w, n, last))
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
return #KEYS
"""


_STAMP = struct.Struct("<d")  # each field value starts with the time it was written, for purge


def _entry(raw: bytes) -> Entry:
    w, n, last = raw.split()
    return Entry(float(w), int(n), float(last))


class RedisStore(HistoryStore):
    def __init__(self, url: str, prefix: str = "pw:", ttl: float = 0.0, timeout: float = 2.0):
        self.url = url
        self.prefix = prefix
        self.ttl = int(ttl)
        try:
            self.client = redis.Redis.from_url(url, socket_timeout=timeout,
                                               socket_connect_timeout=timeout)
            self.client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise StoreError(f"{url}: cannot reach Redis: {exc}") from None
        self._bump = self.client.register_script(BUMP_LUA)

    def _ckey(self, bucket: str) -> str:
        return f"{self.prefix}c:{bucket}"

    def _fkey(self, bucket: str) -> str:
        return f"{self.prefix}f:{bucket}"

    def bump(self, keys: Iterable[Key], at: float, half_life: float) -> None:
        keys = list(keys)
        if not keys:
            return
        self._bump(keys=[self._ckey(b) for b, _ in keys],
                   args=[repr(float(at)), repr(float(half_life)), self.ttl, *(m for _, m in keys)])

    def put(self, items: Iterable[tuple[str, str, bytes]], at: float) -> None:
        pipe = self.client.pipeline(transaction=True)
        touched = set()
        for bucket, field, value in items:
            key = self._fkey(bucket)
            pipe.hset(key, field, _STAMP.pack(at) + value)
            touched.add(key)
        if self.ttl > 0:
            for key in touched:
                pipe.expire(key, self.ttl)
        if touched:
            pipe.execute()

    @staticmethod
    def _grouped(keys: Sequence[Key]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for bucket, member in keys:
            groups.setdefault(bucket, []).append(member)
        return groups

    def lookup(self, counter_keys: Sequence[Key],
               field_keys: Sequence[Key]) -> tuple[dict[Key, Entry], dict[Key, bytes]]:
        cgroups, fgroups = self._grouped(counter_keys), self._grouped(field_keys)
        pipe = self.client.pipeline(transaction=False)
        for bucket, members in cgroups.items():
            pipe.hmget(self._ckey(bucket), members)
        for bucket, fields in fgroups.items():
            pipe.hmget(self._fkey(bucket), fields)
        results = iter(pipe.execute()) if cgroups or fgroups else iter(())
        counters: dict[Key, Entry] = {}
        for bucket, members in cgroups.items():
            for member, raw in zip(members, next(results), strict=True):
                if raw is not None:
                    counters[(bucket, member)] = _entry(raw)
        fields_out: dict[Key, bytes] = {}
        for bucket, fields in fgroups.items():
            for field, raw in zip(fields, next(results), strict=True):
                if raw is not None:
                    fields_out[(bucket, field)] = bytes(raw[_STAMP.size:])
        return counters, fields_out

    def counters(self, keys: Sequence[Key]) -> dict[Key, Entry]:
        return self.lookup(keys, [])[0]

    def get(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        return self.lookup([], keys)[1]

    def members(self, bucket: str) -> dict[str, Entry]:
        raw = self.client.hgetall(self._ckey(bucket))
        return {m.decode(): _entry(v) for m, v in raw.items()}

    def purge(self, before: float) -> int:
        """Remove stale members of every bucket (a maintenance job; TTLs do the bulk of it)."""
        removed = 0
        for key in self.client.scan_iter(match=f"{self.prefix}c:*", count=1000):
            stale = [m for m, v in self.client.hgetall(key).items() if _entry(v).last < before]
            if stale:
                removed += self.client.hdel(key, *stale)
        for key in self.client.scan_iter(match=f"{self.prefix}f:*", count=1000):
            stale = [f for f, v in self.client.hgetall(key).items() if _STAMP.unpack_from(v)[0] < before]
            if stale:
                removed += self.client.hdel(key, *stale)
        return removed

    def close(self) -> None:
        self.client.close()
