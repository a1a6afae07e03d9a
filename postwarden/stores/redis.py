"""The shared store: Redis, so several milter nodes learn and score against one history.

Layout: each bucket is one Redis hash under ``prefix + "c:" + bucket`` (counters, value
``"weight count last"``) or ``prefix + "f:" + bucket`` (fields: write time, then the bytes).
A bump is a Lua script,
so the read-decay-write of every counter in one message is atomic on the server and concurrent
nodes never lose an update. Every write refreshes the bucket's TTL to the configured horizon, so
Redis itself forgets senders and contacts nobody used for that long; ``purge`` additionally
removes stale members of live buckets.

A look-up is one Lua script call (``LOOKUP_LUA``): every bucket's HMGET and every followed
reference in one round trip, answered as one packed string, sent on a connection of the
client's pool and read when the caller asks (``reading``), so the caller works while the server
does. The keys of one call span many hashes, so this needs a single Redis server (or a proxy
that keeps a script's keys together), not Redis Cluster, which the store never supported.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence

import redis
from redis.exceptions import NoScriptError

from postwarden.stores.base import (
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

# Deletes the members of one hash that are still older than ARGV[1] when the script runs (a
# member the daemon refreshed since the client read it stays). ARGV[2]: "c" (a counter, its time
# the last word) or "f" (a field, its time the first 8 bytes, a little-endian double).
PURGE_LUA = """
local before, counter, removed = tonumber(ARGV[1]), ARGV[2] == 'c', 0
for i = 3, #ARGV do
    local v = redis.call('HGET', KEYS[1], ARGV[i])
    if v then
        local t
        if counter then t = tonumber(string.match(v, '(%S+)$')) else t = struct.unpack('<d', v) end
        if t < before then
            redis.call('HDEL', KEYS[1], ARGV[i])
            removed = removed + 1
        end
    end
end
return removed
"""
PURGE_SLICE = 1000  # members a purge script call re-checks and deletes

# KEYS: one hash per group (a follow group: the hash of its reference fields, then the hash
# followed into). ARGV[1]: each group's kind ("c", "f", "c>" or "f>") and how many members, as
# words; ARGV[2]: every member's length (4 bytes each); ARGV[3]: the members, end to end. Three
# arguments rather than one per member: the client's command packing costs a step per argument.
# The reply is one string: the number of values, each value's length (-1 when absent), then the
# values end to end; a follow group gives per member either -1 or the reference field found
# and then the value it names, or -2 in its place when the reply holds that value already (a
# group of the call read it, or an earlier entry named it: the caller has it from there). A
# contact's first-name and prefix entries mostly name the same contact: at a million pairs that
# was 5.5 of a first call's 15 KB, sent twice or more (the first call's server time 242 -> 220
# µs; BENCHMARKS.md, "Speed"). Lengths are packed and unpacked a slice at a time, not one call
# per value: one bulk reply parses in microseconds, where an array of 150 replies costs the
# client a parse step each, and the script's own work is mostly these calls. The script keeps
# its counts in locals (Lua's # operator searches the table) and concatenates its reply once:
# joining the values and then appending them to the header copied the ~15 KB of a look-up
# twice. Both together: 8 % less server time per call.
LOOKUP_LUA = """
local SLICE = 2000  -- values per struct call: unpack() and struct return through the C stack
local function unpack_sizes(data, count)
    local sizes = {}
    for first = 0, count - 1, SLICE do
        local n = math.min(count - first, SLICE)
        local got = {struct.unpack('>' .. string.rep('I4', n), data, 4 * first + 1)}
        for i = 1, n do sizes[first + i] = got[i] end
    end
    return sizes
end
local spec, total = {}, 0
for word in string.gmatch(ARGV[1], '%S+') do spec[#spec + 1] = word end
for g = 2, #spec, 2 do total = total + tonumber(spec[g]) end
local sizes, data = unpack_sizes(ARGV[2], total), ARGV[3]
-- per hash a follow group reads into: the members whose value the reply holds already
local given, k = {}, 1
for g = 1, #spec, 2 do
    if spec[g] == 'c>' or spec[g] == 'f>' then given[KEYS[k + 1]] = {}; k = k + 2 else k = k + 1 end
end
local lens, vals, m, pos, nv, nvals = {}, {}, 0, 1, 0, 0
local sub, find, call = string.sub, string.find, redis.call
k = 1
for g = 1, #spec, 2 do
    local kind, n = spec[g], tonumber(spec[g + 1])
    local key, target = KEYS[k], nil
    if kind == 'c>' or kind == 'f>' then target = KEYS[k + 1]; k = k + 2 else k = k + 1 end
    for first = 0, n - 1, SLICE do
        local members = {}
        for j = 1, math.min(n - first, SLICE) do
            m = m + 1
            local stop = pos + sizes[m]
            members[j] = sub(data, pos, stop - 1)
            pos = stop
        end
        local values = call('HMGET', key, unpack(members))
        if target then  -- the names: after the 8-byte write stamp and 16 more bytes
            local seen, names, found, slot, nf = given[target], {}, {}, {}, 0
            for j = 1, #members do
                local v = values[j]
                if v then
                    local stop = find(v, '\\0', 25, true)
                    local name = sub(v, 25, (stop or (#v + 1)) - 1)
                    names[j] = name
                    if not seen[name] and not slot[name] then  -- each name read once
                        nf = nf + 1
                        found[nf] = name
                        slot[name] = nf
                    end
                end
            end
            local named = nf > 0 and call('HMGET', target, unpack(found)) or {}
            for j = 1, #members do
                local v = values[j]
                nv = nv + 1
                if v then
                    lens[nv] = #v
                    nvals = nvals + 1
                    vals[nvals] = v
                    nv = nv + 1
                    local name = names[j]
                    local w = slot[name] and named[slot[name]]
                    if seen[name] then
                        lens[nv] = -2
                    elseif w then
                        lens[nv] = #w
                        nvals = nvals + 1
                        vals[nvals] = w
                        seen[name] = true
                    else
                        lens[nv] = -1
                    end
                else
                    lens[nv] = -1
                end
            end
        else
            local seen = given[key]
            for j = 1, #members do
                local v = values[j]
                nv = nv + 1
                if v then
                    lens[nv] = #v
                    nvals = nvals + 1
                    vals[nvals] = v
                    if seen then seen[members[j]] = true end
                else
                    lens[nv] = -1
                end
            end
        end
    end
end
-- one concatenation: the header's pieces, then the values (a second .. would copy them all again)
local out = {struct.pack('>I4', nv)}
for first = 1, nv, SLICE do
    local last = math.min(nv, first + SLICE - 1)
    out[#out + 1] = struct.pack('>' .. string.rep('i4', last - first + 1), unpack(lens, first, last))
end
local n = #out
for i = 1, nvals do out[n + i] = vals[i] end
return table.concat(out)
"""
_LENGTH = struct.Struct(">i")
_STAMP = struct.Struct("<d")  # each field value starts with the time it was written, for purge


def _encode(entry: Entry) -> bytes:
    return b"%.17g %d %.17g" % (entry.weight, entry.count, entry.last)


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
        self._lookup = self.client.register_script(LOOKUP_LUA)
        self._purge = self.client.register_script(PURGE_LUA)

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

    def lookup(self, counter_keys: Sequence[Key], field_keys: Sequence[Key],
               follow: Sequence[Follow] = ()) -> Found:
        return self.read(lookup_groups(counter_keys, field_keys, follow))

    def read(self, groups: Sequence[Group]) -> Found:
        """Every key and every followed reference in one round trip: one script call, one reply."""
        with self.reading(groups) as answer:
            return answer()

    @contextlib.contextmanager
    def reading(self, groups: Sequence[Group]) -> Iterator[Callable[[], Found]]:
        """The script call sent on entry, on a connection of the client's pool held until the
        block ends, and its reply read when the caller asks: the caller's work meanwhile
        overlaps the server's (a look-up's first call takes the server ~0.2 ms). Sent and
        read on the connection directly, not through ``Script.__call__``, which would read at
        once and costs the client ~30 µs of its own per call (BENCHMARKS.md, "Speed"). Any
        failure of that path falls back to the script call, with the client's retries (the
        script only reads, so running it again is harmless); a reply left unread (the block
        left early) takes its connection down with it, so no later command reads it."""
        if not groups:
            yield lambda: ({}, {})
            return
        keys, args = self._request(groups)
        pool = self.client.connection_pool
        conn = pool.get_connection()  # no arguments: redis-py 5.3 and later (setup.cfg)
        pending = True
        try:
            try:
                conn.send_command("EVALSHA", self._lookup.sha, len(keys), *keys, *args)
            except redis.RedisError:
                conn.disconnect()
                pending = False

            def answer() -> Found:
                nonlocal pending
                raw = None
                if pending:
                    pending = False
                    try:
                        raw = conn.read_response()
                    except NoScriptError:  # a restarted or flushed server: the script call loads it
                        pass
                    except (redis.ConnectionError, redis.TimeoutError):
                        conn.disconnect()
                if raw is None:
                    raw = self._lookup(keys=keys, args=args)
                return self._found(groups, raw)

            yield answer
        finally:
            if pending:
                conn.disconnect()
            pool.release(conn)

    def _request(self, groups: Sequence[Group]) -> tuple[list[str], list[str | bytes]]:
        """The script's KEYS and ARGV for ``groups`` (see ``LOOKUP_LUA``). The members are
        encoded all at once when they are ASCII (every token in hashed mode), where a
        character is a byte: one call instead of one per member (~200 a message)."""
        keys: list[str] = []
        spec: list[str] = []
        texts: list[str] = []
        for kind, bucket, members, target in groups:
            keys.append(self._ckey(bucket) if kind == "c" else self._fkey(bucket))
            if target:
                keys.append(self._ckey(target) if kind == "c>" else self._fkey(target))
            spec += [kind, str(len(members))]
            texts += members
        joined = "".join(texts)
        if joined.isascii():
            data, sizes = joined.encode(), map(len, texts)
        else:
            encoded = [m.encode() for m in texts]
            data, sizes = b"".join(encoded), map(len, encoded)
        return keys, [" ".join(spec), struct.pack(f">{len(texts)}I", *sizes), data]

    @staticmethod
    def _found(groups: Sequence[Group], raw: bytes) -> Found:
        """The script's reply, taken apart into the counters and fields it found."""
        counters: dict[Key, Entry] = {}
        fields_out: dict[Key, bytes] = {}
        (count,) = _LENGTH.unpack_from(raw, 0)
        sizes = struct.unpack_from(f">{count}i", raw, 4)
        pos, i = 4 + 4 * count, 0  # the next value's offset in ``raw``, its length's index in ``sizes``
        for kind, bucket, members, target in groups:  # inline, not a call per value: ~200 a message
            for member in members:
                size = sizes[i]
                i += 1
                if size < 0:
                    continue
                found, pos = raw[pos:pos + size], pos + size
                key = (bucket, member)
                if kind[-1] == ">":  # the reference field, then the value it names
                    ref = found[_STAMP.size:]
                    fields_out[key] = ref
                    size = sizes[i]
                    i += 1
                    if size < 0:
                        continue
                    found, pos = raw[pos:pos + size], pos + size
                    key = (target, referenced(ref))
                if kind[0] == "c":
                    counters[key] = _entry(found)
                else:
                    fields_out[key] = found[_STAMP.size:]
        return counters, fields_out

    def counters(self, keys: Sequence[Key]) -> dict[Key, Entry]:
        return self.lookup(keys, [])[0]

    def get(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        return self.lookup([], keys)[1]

    def members(self, bucket: str) -> dict[str, Entry]:
        raw = self.client.hgetall(self._ckey(bucket))
        return {m.decode(): _entry(v) for m, v in raw.items()}

    def purge(self, before: float) -> int:
        """Remove stale members of every bucket (a maintenance job; TTLs drop whole buckets).
        Hashes are read with HSCAN, never whole (the organisation's index has millions of members
        and HGETALL would stall every node for seconds), and a script deletes what is still stale
        when it runs, so a member a node refreshed meanwhile stays."""
        removed = 0
        for kind in ("c", "f"):
            for key in self.client.scan_iter(match=f"{self.prefix}{kind}:*", count=1000):
                stale: list[bytes] = []
                for member, raw in self.client.hscan_iter(key, count=1000):
                    written = _entry(raw).last if kind == "c" else _STAMP.unpack_from(raw)[0]
                    if written < before:
                        stale.append(member)
                for i in range(0, len(stale), PURGE_SLICE):
                    removed += int(self._purge(keys=[key], args=[repr(float(before)), kind,
                                                                  *stale[i:i + PURGE_SLICE]]))
        return removed

    def drop(self, buckets: Sequence[str], counters: Sequence[Key] = ()) -> int:
        keys = [k for b in buckets for k in (self._ckey(b), self._fkey(b))]
        pipe = self.client.pipeline(transaction=True)  # counted and deleted in one MULTI
        for key in keys:
            pipe.hlen(key)
            pipe.delete(key)
        for bucket, member in counters:
            pipe.hdel(self._ckey(bucket), member)
        results = pipe.execute() if keys or counters else []
        return sum(results[0:2 * len(keys):2]) + sum(results[2 * len(keys):])

    def export(self) -> Iterator[tuple[str, str, Entry | None, bytes, float]]:
        skip = len(self.prefix) + 2
        for key in self.client.scan_iter(match=f"{self.prefix}[cf]:*", count=1000):
            bucket, counter = key[skip:].decode(), key[len(self.prefix):].startswith(b"c:")
            for member, raw in self.client.hgetall(key).items():
                if counter:
                    yield bucket, member.decode(), _entry(raw), b"", 0.0
                else:
                    yield bucket, member.decode(), None, bytes(raw[_STAMP.size:]), _STAMP.unpack_from(raw)[0]

    def restore(self, rows: Iterable[tuple[str, str, Entry | None, bytes, float]]) -> int:
        """Pipelined in slices, so a store of millions of rows copies in minutes."""
        pipe = self.client.pipeline(transaction=False)
        done = 0
        touched: set[str] = set()
        for bucket, member, entry, value, at in rows:
            if entry is not None:
                key = self._ckey(bucket)
                pipe.hset(key, member, _encode(entry))
            else:
                key = self._fkey(bucket)
                pipe.hset(key, member, _STAMP.pack(at) + value)
            touched.add(key)
            done += 1
            if done % 10_000 == 0:
                pipe.execute()
        if self.ttl > 0:
            for key in touched:
                pipe.expire(key, self.ttl)
        pipe.execute()
        return done

    def close(self) -> None:
        self.client.close()
