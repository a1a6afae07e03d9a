"""One suite for every history store: the SQLite file and a real Redis behave the same."""

from __future__ import annotations

import math
import threading

import pytest

from postwarden.stores import StoreError, open_store
from postwarden.stores import redis as redis_store
from postwarden.stores import sqlite as sqlite_store
from postwarden.stores.base import Entry, bumped

DAY = 86400.0


def test_a_bump_creates_then_counts_and_decays(store):
    store.bump([("c:alice", "bob")], at=0.0, half_life=DAY)
    store.bump([("c:alice", "bob")], at=DAY, half_life=DAY)
    got = store.counters([("c:alice", "bob"), ("c:alice", "nobody")])
    assert list(got) == [("c:alice", "bob")]
    entry = got[("c:alice", "bob")]
    assert entry.count == 2 and entry.last == DAY
    assert entry.weight == pytest.approx(1.5)  # 1 halved after one half-life, plus 1
    assert entry.weight_at(2 * DAY, DAY) == pytest.approx(0.75)


def test_an_old_event_arriving_late_adds_its_decayed_weight_without_moving_the_clock(store):
    store.bump([("c:a", "b")], at=10 * DAY, half_life=DAY)
    store.bump([("c:a", "b")], at=9 * DAY, half_life=DAY)
    entry = store.counters([("c:a", "b")])[("c:a", "b")]
    assert entry.last == 10 * DAY and entry.weight == pytest.approx(1.5)


def test_backends_do_the_reference_arithmetic(store):
    expected = None
    for at in (5.0, 100.0, 50.0, 1000.0):
        store.bump([("b", "m")], at=at, half_life=300.0)
        expected = bumped(expected, at, 300.0)
    got = store.counters([("b", "m")])[("b", "m")]
    assert (got.count, got.last) == (expected.count, expected.last)
    assert math.isclose(got.weight, expected.weight, rel_tol=1e-9)


def test_buckets_keep_members_apart(store):
    store.bump([("c:alice", "x"), ("c:bob", "y"), ("c:alice", "z")], at=1.0, half_life=0)
    assert set(store.members("c:alice")) == {"x", "z"}
    assert set(store.members("c:bob")) == {"y"}


def test_fields_hold_bytes_and_the_last_write_wins(store):
    store.put([("v:a", "b", b"\x00\x01binary"), ("v:a", "c", b"one")], at=1.0)
    store.put([("v:a", "c", b"two")], at=2.0)
    assert store.get([("v:a", "b"), ("v:a", "c"), ("v:a", "missing")]) == {
        ("v:a", "b"): b"\x00\x01binary", ("v:a", "c"): b"two"}


def test_lookup_answers_counters_and_fields_together(store):
    store.bump([("c:a", "b")], at=1.0, half_life=0)
    store.put([("x:a", "k", b"v")], at=1.0)
    counters, fields = store.lookup([("c:a", "b"), ("c:a", "q")], [("x:a", "k"), ("x:b", "k")])
    assert counters == {("c:a", "b"): Entry(1.0, 1, 1.0)}
    assert fields == {("x:a", "k"): b"v"}


def test_many_keys_in_one_lookup(store):
    keys = [("c:big", f"m{i}") for i in range(2500)]
    store.bump(keys, at=1.0, half_life=0)
    assert len(store.counters([*keys, ("c:big", "absent")])) == 2500


def test_purge_forgets_what_was_not_used_since(store):
    store.bump([("c:a", "old")], at=1.0, half_life=0)
    store.bump([("c:a", "new")], at=100.0, half_life=0)
    store.put([("x:a", "old", b"1")], at=1.0)
    store.put([("x:a", "new", b"2")], at=100.0)
    assert store.purge(before=50.0) == 2
    assert set(store.members("c:a")) == {"new"}
    assert store.get([("x:a", "old"), ("x:a", "new")]) == {("x:a", "new"): b"2"}


def test_drop_deletes_whole_buckets_and_single_counters_and_counts_them(store):
    store.bump([("c:a", "x"), ("c:a", "y"), ("c:b", "x"), ("m", "a"), ("m", "b")], at=1.0, half_life=0)
    store.put([("v:a", "x", b"1"), ("v:b", "x", b"2")], at=1.0)
    assert store.drop(["c:a", "v:a", "c:nobody"], [("m", "a"), ("m", "nobody")]) == 4
    assert store.members("c:a") == {} and set(store.members("c:b")) == {"x"}
    assert set(store.members("m")) == {"b"}
    assert store.get([("v:a", "x"), ("v:b", "x")]) == {("v:b", "x"): b"2"}
    assert store.drop([], []) == 0


def test_purge_walks_a_large_history_in_windows(store, monkeypatch):
    """A purge reads and deletes in short steps (SQLite: a transaction per window of rows;
    Redis: HSCAN, then a script per slice), so a running daemon's writes are held up by one step,
    never by the whole pass; every stale member of every bucket still goes."""
    monkeypatch.setattr(sqlite_store, "PURGE_WINDOW", 7)
    monkeypatch.setattr(redis_store, "PURGE_SLICE", 3)
    for bucket in ("c:a", "c:b", "oc"):
        store.bump([(bucket, f"old{i}") for i in range(20)], at=1.0, half_life=0)
        store.bump([(bucket, f"new{i}") for i in range(5)], at=100.0, half_life=0)
    store.put([("xo", f"old{i}", b"o") for i in range(30)], at=1.0)
    store.put([("xo", f"new{i}", b"n") for i in range(4)], at=100.0)
    assert store.purge(before=50.0) == 3 * 20 + 30
    assert all(set(store.members(b)) == {f"new{i}" for i in range(5)} for b in ("c:a", "c:b", "oc"))
    assert len(store.get([("xo", f"{age}{i}") for age in ("old", "new") for i in range(30)])) == 4
    assert store.purge(before=50.0) == 0


def test_concurrent_bumps_from_many_threads_lose_nothing(store):
    def work() -> None:
        for _ in range(50):
            store.bump([("c:shared", "rcpt"), ("m", "sender")], at=1.0, half_life=0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = store.counters([("c:shared", "rcpt"), ("m", "sender")])
    assert got[("c:shared", "rcpt")].count == 400
    assert got[("m", "sender")].weight == pytest.approx(400.0)


def test_sqlite_survives_reopening_and_uses_wal(tmp_path):
    path = str(tmp_path / "h.sqlite")
    first = open_store("sqlite", path=path)
    first.bump([("c:a", "b")], at=1.0, half_life=0)
    first.close()
    second = open_store("sqlite", path=path)
    assert second.counters([("c:a", "b")])[("c:a", "b")].count == 1
    with second._use() as conn:  # type: ignore[attr-defined]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    second.close()
    assert mode == "wal"


def test_sqlite_in_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store("sqlite", path=str(tmp_path / "no" / "such" / "h.sqlite"))


def test_unreachable_redis_is_refused():
    with pytest.raises(StoreError, match="cannot reach Redis"):
        open_store("redis", url="redis://127.0.0.1:1/0")


def test_unknown_store_kind_is_refused():
    with pytest.raises(StoreError, match="unknown store kind"):
        open_store("mongo")


@pytest.mark.redis
def test_redis_buckets_expire_after_the_horizon(redis_url):
    s = open_store("redis", url=redis_url, prefix="ttltest:", ttl=100.0)
    s.bump([("c:a", "b")], at=1.0, half_life=0)
    ttl = s.client.ttl("ttltest:c:c:a")  # type: ignore[attr-defined]
    s.close()
    assert 0 < ttl <= 100


def test_sqlite_does_not_keep_a_connection_per_thread(tmp_path):
    """libmilter runs each SMTP connection in a new thread: connections must not pile up."""
    s = open_store("sqlite", path=str(tmp_path / "h.sqlite"))
    for _ in range(20):
        t = threading.Thread(target=lambda: s.bump([("c:a", "b")], at=1.0, half_life=0))
        t.start()
        t.join()
    assert s.connections() <= 2  # type: ignore[attr-defined]
    assert s.counters([("c:a", "b")])[("c:a", "b")].count == 20
    s.close()


def test_a_failed_sqlite_batch_writes_nothing(tmp_path):
    """A message is learned in one transaction: a crash half-way leaves no half-learned message."""
    s = open_store("sqlite", path=str(tmp_path / "h.sqlite"))
    with pytest.raises(RuntimeError), s.batch():
        s.bump([("c:a", "b")], at=1.0, half_life=0)
        s.put([("x:a", "k", b"v")], at=1.0)
        raise RuntimeError("crash in the middle of learning a message")
    assert s.counters([("c:a", "b")]) == {} and s.get([("x:a", "k")]) == {}
    s.close()


def test_lookup_follows_reference_fields_to_what_they_name(store):
    """A similarity index entry names a contact: its counter and centroid come in the same call,
    and so does every entry followed, which the caller need not ask for as a field too."""
    head = b"\x01" * 16  # the caller's bytes before the name (a weight and a time)
    store.bump([("c:a", "bob"), ("c:a", "carol")], at=1.0, half_life=0)
    store.put([("x:a", "first", head + b"bob\0smith"), ("x:a", "prefix", head + b"carol"),
               ("x:a", "gone", head + b"dave\0"), ("v:a", "bob", b"centroid")], at=1.0)
    follow = [(("x:a", k), kind, bucket) for k in ("first", "prefix", "gone", "absent")
              for kind, bucket in (("c", "c:a"), ("f", "v:a"))]
    counters, fields = store.lookup([("c:a", "nobody")], [("x:a", "first")], follow)
    assert counters == {("c:a", "bob"): Entry(1.0, 1, 1.0), ("c:a", "carol"): Entry(1.0, 1, 1.0)}
    assert fields == {("x:a", "first"): head + b"bob\0smith", ("x:a", "prefix"): head + b"carol",
                      ("x:a", "gone"): head + b"dave\0", ("v:a", "bob"): b"centroid"}


def test_a_lookup_spanning_more_buckets_than_one_statement_holds(store):
    keys = [(f"c:s{i}", "m") for i in range(450)]
    store.bump(keys, at=1.0, half_life=0)
    assert set(store.lookup(keys, [("f:none", "x")])[0]) == set(keys)


def test_a_store_copies_to_another_backend_row_for_row(store, tmp_path):
    store.bump([("c:a", "b"), ("m", "a")], at=5.0, half_life=DAY)
    store.bump([("c:a", "b")], at=7.0, half_life=DAY)
    store.put([("v:a", "b", b"\x00\xffbytes")], at=6.0)
    copy = open_store("sqlite", path=str(tmp_path / "copy.sqlite"))
    assert copy.restore(store.export()) == 3
    assert copy.counters([("c:a", "b"), ("m", "a")]) == store.counters([("c:a", "b"), ("m", "a")])
    assert copy.get([("v:a", "b")]) == {("v:a", "b"): b"\x00\xffbytes"}
    assert copy.purge(before=6.5) == 2  # the copied field keeps its write time, the counter its last
    copy.close()


def test_a_sqlite_history_copies_into_any_backend(store, tmp_path):
    source = open_store("sqlite", path=str(tmp_path / "source.sqlite"))
    source.bump([("c:a", "b")], at=3.0, half_life=DAY)
    source.put([("x:a", "k", b"ref")], at=4.0)
    assert store.restore(source.export()) == 2
    assert store.counters([("c:a", "b")]) == source.counters([("c:a", "b")])
    assert store.get([("x:a", "k")]) == {("x:a", "k"): b"ref"}
    source.close()


def test_members_with_any_characters_are_found(store):
    """Plain mode's thread keys hold a NUL, addresses may be non-ASCII: every key comes back."""
    keys = [("t:a", "gas contract\0john@acme.com"), ("t:a", "plain"), ("c:a", "jürgen@beispiel.de"),
            ("c:a", 'quote"and\\backslash'), ("c:a", "emoji😀@x.org")]
    store.bump(keys, at=1.0, half_life=0)
    store.put([(b, m, b"v") for b, m in keys], at=1.0)
    assert set(store.counters(keys)) == set(keys)
    assert set(store.get(keys)) == set(keys)


def test_a_value_named_again_comes_back_with_every_reference(store):
    """Name and prefix entries often name the same contact, or one whose centroid the same call
    reads anyway: the Redis script sends such a value once (BENCHMARKS.md, "Speed"), and the
    caller still finds every reference and every value, in counters and in fields alike."""
    head = b"\x01" * 16
    store.bump([("c:a", "bob"), ("c:a", "carol")], at=1.0, half_life=0)
    store.put([("x:a", "first", head + b"bob\0smith"), ("x:a", "prefix", head + b"bob"),
               ("x2:a", "first", head + b"carol"), ("x2:a", "prefix", head + b"dave"),
               ("v:a", "bob", b"bob's"), ("v:a", "carol", b"carol's")], at=1.0)
    groups = [("f", "v:a", ["carol", "nobody"], ""), ("c", "c:a", ["bob"], ""),
              ("f>", "x:a", ["first", "prefix", "first", "absent"], "v:a"),
              ("f>", "x2:a", ["first", "prefix"], "v:a"), ("c>", "x2:a", ["first", "prefix"], "c:a"),
              ("c>", "x:a", ["prefix", "first"], "c:a")]
    counters, fields = store.read(groups)
    assert counters == {("c:a", "bob"): Entry(1.0, 1, 1.0), ("c:a", "carol"): Entry(1.0, 1, 1.0)}
    assert fields == {("v:a", "bob"): b"bob's", ("v:a", "carol"): b"carol's",
                      ("x:a", "first"): head + b"bob\0smith", ("x:a", "prefix"): head + b"bob",
                      ("x2:a", "first"): head + b"carol", ("x2:a", "prefix"): head + b"dave"}


def test_reads_begun_together_answer_each_their_own(store):
    """The history reads while it works (``reading``): two reads under way at once, answered
    in either order, and one abandoned, leave every answer right and the store usable."""
    store.bump([("c:a", "b")], at=1.0, half_life=0)
    store.put([("x:a", "k", b"v")], at=1.0)
    counter, field = [("c", "c:a", ["b"], "")], [("f", "x:a", ["k"], "")]
    with store.reading(counter) as first, store.reading(field) as second:
        assert second() == ({}, {("x:a", "k"): b"v"})
        assert first() == ({("c:a", "b"): Entry(1.0, 1, 1.0)}, {})
    with pytest.raises(RuntimeError), store.reading(counter):
        raise RuntimeError("the caller failed before it asked for the answer")
    with store.reading([]) as nothing:
        assert nothing() == ({}, {})
    assert store.read(counter + field) == ({("c:a", "b"): Entry(1.0, 1, 1.0)}, {("x:a", "k"): b"v"})


@pytest.mark.redis
def test_redis_reads_after_the_server_forgot_the_script(redis_url):
    """A restarted or flushed server answers the script's hash with NOSCRIPT: the read loads
    the script again and answers."""
    s = open_store("redis", url=redis_url, prefix="noscript:")
    s.bump([("c:a", "b")], at=1.0, half_life=0)
    s.client.script_flush()  # type: ignore[attr-defined]
    assert s.read([("c", "c:a", ["b"], "")]) == ({("c:a", "b"): Entry(1.0, 1, 1.0)}, {})
    s.close()
