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


def estimate(mean: float, variance: float, measured: float, distance: int) -> Eta:
    """What the cache estimates from these counters."""
    cache = RoomCache()
    cache.apply(meta(sp_mean=mean, sp_var=variance, sp_meas=measured), [], 0, 0, {})
    return cache.estimate(distance)


def test_estimate_follows_the_core() -> None:
    unknown = estimate(10.0, 0.0, 0.0, 100)
    assert (unknown.seconds, unknown.low, unknown.high, unknown.known) == (10.0, 5.0, 15.0, False)
    steady = estimate(5.0, 0.0, 600.0, 50)
    assert steady.known and steady.seconds == 10.0 and steady.high == 11.0
    assert estimate(5.0, 0.0, 0.0, 0).seconds == 0.0


def test_pairs() -> None:
    assert pairs([b"a", b"1", b"b", b"2"]) == {b"a": b"1", b"b": b"2"}
