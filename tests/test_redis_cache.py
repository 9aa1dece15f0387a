"""The per-process cache of the Redis backend, without Redis: snapshots taken in once each,
``ahead`` from the cursor and the places given up, and the wait estimate of the core."""

from __future__ import annotations

from pyqueue import Eta
from pyqueue.backends.redis_backend.cache import RoomCache, TicketRecord, pairs


def meta(**values: float) -> dict[bytes, bytes]:
    return {k.encode(): str(v).encode() for k, v in values.items()}


def test_overlapping_snapshots_apply_each_change_once() -> None:
    cache = RoomCache()
    cache.apply(meta(cursor=2, drawn=1), [b"7:5", b"8:6"], 0, 0, {})
    # A refresh that started before the tick brings the same two entries and one more.
    cache.apply(meta(cursor=2, drawn=1), [b"7:5", b"8:6", b"9:8"], 0, 0, {})
    assert cache.changes_read == 3
    # Positions 2..9 minus the three given up.
    assert cache.ahead(10) == 8 - 3
    # A snapshot from beyond what this cache read leaves a gap: it asks to be read again.
    cache.apply(meta(cursor=2, drawn=1), [b"1:9"], 5, 0, {})
    assert cache.stale and cache.changes_read == 3


def test_records_are_trusted_until_the_cursor_passes_them() -> None:
    cache = RoomCache()
    cache.apply(meta(cursor=3, drawn=1), [], 0, 0, {})
    cache.tickets[4] = TicketRecord("waiting", 5, 0, 0, 0, 4)
    cache.tickets[1] = TicketRecord("waiting", 2, 0, 0, 0, 1)
    assert cache.record(4) is not None
    assert cache.record(1) is None  # position 2 < cursor 3: admitted, abandoned or closed
    cache.apply(meta(cursor=3, drawn=1), [b"4:5"], 0, 0, {})
    assert cache.record(4) is None  # it left: read it again


def estimate(distance: int, **counters: float) -> Eta:
    """What the cache estimates from the counters the scripts keep: 10 admitted a second, 20
    places, sessions of at most 600 s, all places taken, and ``counters`` on top."""
    cache = RoomCache()
    room = {"rate": 10.0, "max_active": 20, "session_us": 600e6, "active": 20}
    cache.apply(meta(**{**room, **counters}), [], 0, 0, {})
    return cache.estimate(distance)


def test_estimate_follows_the_core_from_the_scripts_counters() -> None:
    measuring = estimate(100)
    assert (measuring.reason, measuring.known) == ("measuring", False)
    assert (measuring.low, measuring.high) == (5.0, 5 * 600.0)
    # 60 s in which the full site let in 300 people (five a second), sessions reported done.
    measured = {"ln_passed": 300, "ln_admitted": 300, "ln_us": 60e6, "ln_filled": 1}
    full = estimate(100, c_completed=300, **measured)
    assert (full.reason, full.known, full.seconds) == ("capacity", True, 20.0)
    assert full.admit_per_second == 5.0
    # No session was ever reported complete: places free up only as passes expire.
    assert estimate(100, c_expired=300, **measured).reason == "expiry"
    assert estimate(100, paused=1, **measured).reason == "paused"
    assert estimate(0, **measured).seconds == 0.0


def test_pairs() -> None:
    assert pairs([b"a", b"1", b"b", b"2"]) == {b"a": b"1", b"b": b"2"}
