"""The fast writer of the status answer says exactly what the general one says, for any
status the core's ``Status`` can hold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from pyqueue import Eta, Offer, Status
from pyqueue._core import ETA_REASONS
from pyqueue.server import polling, render

STATES = ["prequeue", "waiting", "admitted", "completed", "expired", "abandoned", "left", "closed"]


numbers = st.floats(0, 1e7, allow_nan=False)
#: The moment of every status; its pass ends from an hour before it to a week after.
AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
statuses = st.builds(
    Status,
    ticket=st.integers(0, 2**32 - 1),
    state=st.sampled_from(STATES),
    at=st.just(AT),
    eta=st.builds(
        Eta,
        low=numbers,
        seconds=numbers,
        high=numbers,
        known=st.booleans(),
        reason=st.sampled_from(ETA_REASONS),
        admit_per_second=numbers,
    ),
    ahead=st.none() | st.integers(0, 10**7),
    ahead_at_start=st.none() | st.integers(0, 10**7),
    opens_in_seconds=numbers,
    pass_token=st.none() | st.just("k1.AQIA0oabsA2IDgRkZW1v.JaTykscfoAqzb-9uF4pY2w"),
    pass_expires_at=st.none()
    | st.datetimes(
        min_value=datetime(2021, 5, 10, 4, 0),
        max_value=datetime(2021, 5, 17, 5, 0),
        timezones=st.just(UTC),
    ),
    offer=st.none()
    | st.builds(
        Offer,
        slot=st.text(min_size=1, max_size=20),
        until=st.datetimes(
            min_value=datetime(2021, 5, 10, 5, 0),
            max_value=datetime(2023, 11, 14, 0, 0),
            timezones=st.just(UTC),
        ),
    ),
    paused=st.booleans(),
)


@contextmanager
def fixed_jitter() -> Iterator[None]:
    saved = polling._random
    polling._random = lambda: 0.5
    try:
        yield
    finally:
        polling._random = saved


@given(
    status=statuses,
    room=st.text(alphabet="abcXYZ019_-", min_size=1, max_size=64),
    handoff=st.none() | st.just("https://book.example/go?x=1"),
)
def test_fast_and_general_answers_agree(status: Status, room: str, handoff: str | None) -> None:
    with fixed_jitter():
        fast, fast_ms, has_pass = render.status_json(room, status, 40_000, lambda: 1.65e9, handoff)
        general, general_ms = render.status(room, status, 40_000, lambda: 1.65e9, handoff)
    assert orjson.loads(fast) == orjson.loads(orjson.dumps(general, option=orjson.OPT_UTC_Z))
    assert fast_ms == general_ms
    assert has_pass == (status.pass_token is not None)
