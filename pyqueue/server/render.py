"""The JSON shape of the core's value objects. Datetimes stay datetimes here; orjson writes
them as RFC 3339 strings (UTC, ``Z``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson

from pyqueue._core import (
    AuditEntry,
    Booking,
    Draw,
    GroupAvailability,
    Hold,
    RoomConfig,
    RoomInfo,
    SlotInfo,
    Status,
)
from pyqueue.server.polling import poll_after_ms


def handoff_link(url: str, pass_token: str) -> str:
    """The portal's handoff URL with the pass as the ``pass`` query parameter."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}pass={quote(pass_token, safe='')}"


def status(
    room: str,
    st: Status,
    poll_cap_ms: int,
    now: Callable[[], float],
    handoff_url: str | None,
) -> tuple[dict[str, Any], int]:
    """The status answer (without ``ticket``; a join adds it) and its poll interval."""
    state = st.state
    ahead = st.ahead
    eta = st.eta
    eta_seconds = eta.seconds
    opens_in = st.opens_in_seconds
    paused = st.paused
    pass_token = st.pass_token
    offer = st.offer
    poll_ms = poll_after_ms(state, ahead, eta_seconds, opens_in, paused, poll_cap_ms)
    return {
        "room": room,
        "ticket_id": st.ticket,
        "state": state,
        "ahead": ahead,
        "ahead_at_start": st.ahead_at_start,
        "eta": {
            "low": round(eta.low),
            "seconds": round(eta_seconds),
            "high": round(eta.high),
            "known": eta.known,
            "reason": eta.reason,
            "admit_per_minute": round(eta.admit_per_second * 60),
        },
        "opens_in_seconds": round(opens_in),
        "pass": pass_token,
        "pass_expires_in_seconds": (
            None if pass_token is None else round(st.pass_expires_in_seconds)
        ),
        "offer": (
            None
            if offer is None
            else {
                "slot": offer.slot,
                "until": offer.until,
                "expires_in_seconds": max(0, round(offer.until_timestamp - now())),
            }
        ),
        "paused": paused,
        "poll_after_ms": poll_ms,
        "handoff_url": (
            None
            if handoff_url is None or pass_token is None
            else handoff_link(handoff_url, pass_token)
        ),
    }, poll_ms


def status_json(
    room: str,
    st: Status,
    poll_cap_ms: int,
    now: Callable[[], float],
    handoff_url: str | None,
) -> tuple[bytes, int, bool]:
    """:func:`status` as JSON bytes, its poll interval, and whether a pass was issued.

    The memory backend answers most polls (those of waiting visitors) natively, in
    ``pyqueue.status_poll``; this is the answer of every other case.
    """
    body, poll_ms = status(room, st, poll_cap_ms, now, handoff_url)
    return orjson.dumps(body, option=orjson.OPT_UTC_Z), poll_ms, body["pass"] is not None


def slot(info: SlotInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "group": info.group,
        "starts_at": info.starts_at,
        "state": info.state,
        "until": info.until,
    }


def group(availability: GroupAvailability) -> dict[str, Any]:
    return {
        "group": availability.group,
        "free": availability.free,
        "held": availability.held,
        "offered": availability.offered,
        "booked": availability.booked,
        "returned": availability.returned,
    }


def hold(h: Hold, now: float) -> dict[str, Any]:
    return {
        "slot": h.slot,
        "group": h.group,
        "starts_at": h.starts_at,
        "ticket_id": h.ticket,
        "until": h.until,
        "expires_in_seconds": max(0, round(h.until_timestamp - now)),
    }


def booking(b: Booking) -> dict[str, Any]:
    """A booking by its code: ``booked``, or ``cancelled`` with ``cancelled_at``."""
    return {
        "code": b.code,
        "slot": b.slot,
        "group": b.group,
        "starts_at": b.starts_at,
        "ticket_id": b.ticket,
        "state": b.state,
        "cancelled_at": b.cancelled_at,
    }


def public_room(config: RoomConfig, info: RoomInfo) -> dict[str, Any]:
    """What anyone may know about a room: enough for the waiting-room page."""
    return {
        "room": config.id,
        "state": info.state,
        "opens_at": config.opens_at,
        "closes_at": config.closes_at,
        "opens_in_seconds": round(info.opens_in_seconds),
        "waiting": info.waiting,
        "active": info.active,
        "admit_per_minute": info.admit_per_minute,
        "measured_per_minute": round(info.measured_per_minute, 1),
        "paused": info.state == "paused",
        "sold_out": info.state == "sold_out",
        "identity": config.identity,
        "returned_slots": config.returned_slots,
        "hold_seconds": config.hold_seconds,
        "session_seconds": config.session_seconds,
        "next_release_window": info.next_release_window,
        "groups": [{"group": g.group, "free": g.free} for g in info.availability],
    }


def stats(config: RoomConfig, info: RoomInfo, draw: Draw | None) -> dict[str, Any]:
    """The operator's view: counters, capacity, availability and the recorded draw."""
    return {
        "room": config.id,
        "state": info.state,
        "opens_in_seconds": round(info.opens_in_seconds),
        "waiting": info.waiting,
        "active": info.active,
        "max_active": config.max_active,
        "admit_per_minute": info.admit_per_minute,
        "measured_per_minute": round(info.measured_per_minute, 3),
        "queue_all": info.queue_all,
        "counters": dict(info.counters),
        "groups": [group(g) for g in info.availability],
        "next_release_window": info.next_release_window,
        "draw": (
            None
            if draw is None
            else {"seed": draw.seed, "at": draw.at, "mode": draw.mode, "size": len(draw.order)}
        ),
    }


def audit_entry(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "action": entry.action,
        "actor": entry.actor,
        "count": entry.count,
        "reason": entry.reason,
    }
