"""The store interface: decaying counters and small binary fields, grouped in buckets.

Everything the recipient history keeps fits two shapes. A *counter* is a (bucket, member) pair
with an exponentially decaying weight, a plain count and the time it was last bumped: "how often
and how recently did this sender write to this recipient". A *field* is a (bucket, field) pair
holding a few bytes: a similarity index entry pointing at a contact, a content centroid, a
send-anyway marker. Backends store those and nothing else, so the SQLite and Redis stores share
one test suite and the scoring code never sees which one it talks to.

Decay is applied when a counter is bumped and again when it is read (``Entry.weight_at``): the
stored weight is the weight as of ``last``. Bumps out of time order (an import of old mail after
newer mail) add the decayed contribution instead of resetting the clock.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

Key = tuple[str, str]
Follow = tuple[Key, str, str]  # (reference field, "c" or "f", bucket of what it names)
REF_OFFSET = 16  # a reference field: 16 bytes of the caller's, the member's name, NUL, the caller's


Group = tuple[str, str, list[str], str]  # (kind, bucket, members, bucket followed into)
Found = tuple[dict[Key, "Entry"], dict[Key, bytes]]  # what a look-up found: counters, fields


def lookup_groups(counter_keys: Iterable[Key], field_keys: Iterable[Key],
                  follow: Iterable[Follow] = ()) -> list[Group]:
    """What one ``lookup`` reads, bucket by bucket: kind ``c`` (counters) or ``f`` (fields), or
    ``c>``/``f>`` for the members named by reference fields. Each member once per bucket
    (recipients share domains): one read per distinct key."""
    groups: list[Group] = []
    for kind, keys in (("c", counter_keys), ("f", field_keys)):
        members: dict[str, dict[str, None]] = {}
        for bucket, member in keys:
            seen = members.get(bucket)
            if seen is None:  # not setdefault(bucket, {}): that builds a dict per key
                seen = members[bucket] = {}
            seen[member] = None
        groups += [(kind, bucket, list(m), "") for bucket, m in members.items()]
    followed: dict[tuple[str, str, str], list[str]] = {}
    for (source, field), kind, target in follow:
        followed.setdefault((kind + ">", source, target), []).append(field)
    groups += [(kind, bucket, m, target) for (kind, bucket, target), m in followed.items()]
    return groups


def referenced(value: bytes) -> str:
    """The member a reference field names (see ``HistoryStore.lookup``'s ``follow``)."""
    end = value.find(b"\0", REF_OFFSET)
    return value[REF_OFFSET:end if end >= 0 else len(value)].decode()


class StoreError(Exception):
    """A store that cannot be opened or reached."""


def decayed(weight: float, last: float, now: float, half_life: float) -> float:
    """``weight`` as of ``last``, decayed to ``now`` (never grown: a future ``last`` counts as
    now); a half-life of 0 or less keeps it as it is."""
    if half_life <= 0:
        return weight
    return weight * math.pow(2.0, -max(now - last, 0.0) / half_life)


class Entry(NamedTuple):
    """One counter: decayed weight as of ``last``, number of bumps, time of the latest bump.

    A named tuple, not a frozen dataclass: a look-up builds a few dozen of these per message,
    and a tuple is made in a fraction of the time (a frozen dataclass's ``__init__`` goes
    through ``object.__setattr__`` per field), and is immutable and compared by value alike.
    """

    weight: float
    count: int
    last: float

    def weight_at(self, now: float, half_life: float) -> float:
        """The weight decayed to ``now`` (``decayed``)."""
        return decayed(self.weight, self.last, now, half_life)


def bumped(old: Entry | None, at: float, half_life: float, amount: float = 1.0) -> Entry:
    """The counter after one more event at ``at``; the reference the backends must match."""
    if old is None:
        return Entry(amount, 1, at)
    if half_life <= 0:
        return Entry(old.weight + amount, old.count + 1, max(old.last, at))
    if at >= old.last:
        return Entry(old.weight * math.pow(2.0, -(at - old.last) / half_life) + amount, old.count + 1, at)
    return Entry(old.weight + amount * math.pow(2.0, -(old.last - at) / half_life), old.count + 1, old.last)


class HistoryStore(abc.ABC):
    """Buckets of decaying counters and of byte fields. Implementations are thread-safe."""

    @abc.abstractmethod
    def bump(self, keys: Iterable[Key], at: float, half_life: float) -> None:
        """Add one event at time ``at`` to every (bucket, member) counter, atomically."""

    @abc.abstractmethod
    def counters(self, keys: Sequence[Key]) -> dict[Key, Entry]:
        """The counters that exist among ``keys``, in one round trip."""

    @abc.abstractmethod
    def members(self, bucket: str) -> dict[str, Entry]:
        """Every counter of one bucket (for listings and tests, not the scoring path)."""

    @abc.abstractmethod
    def put(self, items: Iterable[tuple[str, str, bytes]], at: float) -> None:
        """Set (bucket, field) to value; ``at`` dates the write for purging."""

    @abc.abstractmethod
    def get(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        """The fields that exist among ``keys``, in one round trip."""

    @abc.abstractmethod
    def purge(self, before: float) -> int:
        """Delete counters last bumped and fields last written before ``before``; return how many."""

    @abc.abstractmethod
    def drop(self, buckets: Sequence[str], counters: Sequence[Key] = ()) -> int:
        """Delete whole buckets (counters and fields) and single counters; return how many
        entries went."""

    @abc.abstractmethod
    def export(self) -> Iterator[tuple[str, str, Entry | None, bytes, float]]:
        """Every counter as (bucket, member, entry, b"", 0.0) and every field as (bucket, field,
        None, value, written): a copy of the history, to move it to another backend."""

    @abc.abstractmethod
    def restore(self, rows: Iterable[tuple[str, str, Entry | None, bytes, float]]) -> int:
        """Write rows in ``export``'s shape as they are (no decay, no bumping); return how many."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes (an import); backends with transactions make it one."""
        yield

    def lookup(self, counter_keys: Sequence[Key], field_keys: Sequence[Key],
               follow: Sequence[Follow] = ()) -> tuple[dict[Key, Entry], dict[Key, bytes]]:
        """Counters and fields together, and what reference fields point at, in one round trip.

        ``follow`` holds (source, kind, bucket): when the field ``source`` exists, it is returned
        with the fields, its value is a reference (``referenced``), and the counter (kind "c")
        or field (kind "f") of that member in ``bucket`` is looked up as well and returned with
        the others. A look-up that needs what another look-up finds thus costs no second round
        trip, and a field that is followed need not be asked for too (each is read once).
        Backends override this with one statement or one script call; this reference version
        makes several.
        """
        counters, fields = self.counters(counter_keys), self.get(field_keys)
        wanted: dict[str, list[Key]] = {"c": [], "f": []}
        for source, kind, bucket in follow:
            value = fields.get(source)
            if value is None:
                value = self.get([source]).get(source)
            if value is not None:
                fields[source] = value
                wanted[kind].append((bucket, referenced(value)))
        counters.update(self.counters(wanted["c"]))
        fields.update(self.get(wanted["f"]))
        return counters, fields

    def read(self, groups: Sequence[Group]) -> Found:
        """``lookup`` with its keys grouped by bucket already, in the shape ``lookup_groups``
        makes (a member may repeat): how the history asks, which builds its keys bucket by
        bucket anyway, so the 150-300 keys of a message are not taken apart and regrouped.
        This version hands them to ``lookup``; backends implement this one and make
        ``lookup`` group its keys and call it."""
        counters = [(bucket, m) for kind, bucket, members, _ in groups if kind == "c" for m in members]
        fields = [(bucket, m) for kind, bucket, members, _ in groups if kind == "f" for m in members]
        follow = [((bucket, m), kind[0], target) for kind, bucket, members, target in groups
                  if kind[-1] == ">" for m in members]
        return self.lookup(counters, fields, follow)

    @contextlib.contextmanager
    def reading(self, groups: Sequence[Group]) -> Iterator[Callable[[], Found]]:
        """``read``, begun on entry and answered by the function it yields, so the caller can
        work while a store on the network answers: the history computes what does not depend
        on the answer meanwhile (BENCHMARKS.md, "Speed"). Call the function at most once,
        inside the block; leaving the block without calling it abandons the read. This
        version reads on entry (an embedded store has no server to work meanwhile)."""
        found = self.read(groups)
        yield lambda: found
