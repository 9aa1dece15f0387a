"""A ticket's status, computed in this process from the room's cached counters and the
ticket's cached record: the hot path of a poll, without a Redis command."""

from __future__ import annotations

from typing import Final

from pyqueue._core import Eta, Offer, RoomConfig, Signer, Status
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.cache import RoomCache, TicketRecord

MICROS: Final = rec.MICROS
#: Ticket tokens last a week from the join, as the core signs them.
TICKET_TOKEN_SECONDS: Final = 7 * 24 * 3600
#: The estimate of a ticket no longer waiting.
ZERO_ETA: Final = Eta(
    low=0.0, seconds=0.0, high=0.0, known=True, reason="rate", admit_per_second=0.0
)


def sign_ticket(signer: Signer, room: str, ticket: int, joined: int, sub: str | None) -> str:
    # Signed from the join second, like the core: the same ticket always has the same token.
    issued = joined // MICROS
    return signer.sign("ticket", room, ticket, issued, issued + TICKET_TOKEN_SECONDS, sub)


def sign_pass(signer: Signer, room: str, ticket: int, record: TicketRecord, sub: str | None) -> str:
    """The pass of an admitted ticket: from its admission second to its session's end. It
    carries the vouched identity of an entry room's ticket, which its ticket token carries."""
    return signer.sign(
        "pass", room, ticket, record.admitted // MICROS, record.expires // MICROS, sub
    )


def build_status(
    signer: Signer,
    room: str,
    config: RoomConfig,
    cache: RoomCache,
    t: int,
    record: TicketRecord,
    now: int,
    opens: int,
    sub: str | None = None,
) -> Status:
    """A ticket's status from the cache alone, as the core computes it."""
    opens_in = max(0, opens - now) / MICROS
    state = record.state
    ahead: int | None = None
    ahead_at_start: int | None = None
    eta = ZERO_ETA
    pass_token: str | None = None
    expires: int | None = None
    if state == "prequeue":
        eta = cache.line().prequeue_estimate(opens_in, cache.prequeue_waiting())
    elif state == "waiting":
        ahead = cache.ahead(record.position)
        ahead_at_start = record.ahead_at_start
        eta = cache.estimate(record.position + 1 - cache.count("cursor"))
    elif state == "admitted":
        pass_token = sign_pass(signer, room, t, record, sub)
        expires = record.expires
    offered = cache.offers.get(t)
    offer = None if offered is None else Offer(slot=offered[0], until=rec.from_micros(offered[1]))
    return Status(
        ticket=t,
        state=state,
        at=rec.from_micros(now),
        eta=eta,
        ahead=ahead,
        ahead_at_start=ahead_at_start,
        opens_in_seconds=opens_in,
        pass_token=pass_token,
        pass_expires_at=None if expires is None else rec.from_micros(expires),
        offer=offer,
        paused=cache.flag("paused"),
    )
