"""A ticket's status, computed in this process from the room's cached counters and the
ticket's cached record: the hot path of a poll, without a Redis command."""

from __future__ import annotations

from typing import Final

from pyqueue._core import RoomConfig, Signer, prequeue_estimate
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.cache import RoomCache, TicketRecord

MICROS: Final = rec.MICROS
#: Ticket tokens last a week from the join, as the core signs them.
TICKET_TOKEN_SECONDS: Final = 7 * 24 * 3600


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
) -> rec.Status:
    """A ticket's status from the cache alone, as the core computes it."""
    opens_in = max(0, opens - now) / MICROS
    state = record.state
    ahead: int | None = None
    ahead_at_start: int | None = None
    eta = rec.ZERO_ETA
    pass_token: str | None = None
    expires: int | None = None
    if state == "admitted" and now >= record.expires:
        state = "expired"  # the next tick books it; capacity is computed there
    if state == "prequeue":
        waiting = cache.prequeue_waiting()
        eta = rec.Eta(*prequeue_estimate(opens_in, waiting, config.admit_per_minute / 60.0))
    elif state == "waiting":
        ahead = cache.ahead(record.position)
        ahead_at_start = record.ahead_at_start
        eta = cache.estimate(record.position + 1 - cache.count("cursor"))
    elif state == "admitted":
        pass_token = sign_pass(signer, room, t, record, sub)
        expires = record.expires
    offered = cache.offers.get(t)
    offer = None if offered is None else rec.Offer(offered[0], offered[1])
    return rec.Status(
        ticket=t,
        state=state,
        ahead=ahead,
        ahead_at_start=ahead_at_start,
        eta=eta,
        opens_in_seconds=opens_in,
        pass_token=pass_token,
        pass_expires_micros=expires,
        now_micros=now,
        offer=offer,
        paused=cache.flag("paused"),
    )
