"""The Lua scripts of a room, loaded from the ``lua/`` files next to this module, and the mapping
of their error replies to the core's exceptions.

Each script is ``common.lua`` followed by its own file, registered with redis-py, which runs
it by SHA and loads it again after a server restart (``NOSCRIPT``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Final

from redis.exceptions import ResponseError

from pyqueue._core import (
    DuplicateSlot,
    HoldExpired,
    IdentityRequired,
    InvalidArgument,
    LimitReached,
    NoHold,
    NoOffer,
    NotAdmitted,
    NotHolder,
    NotOpenYet,
    PyqueueError,
    ReleaseRefused,
    RoomClosed,
    SlotTaken,
    TokenExpired,
    UnknownBooking,
    UnknownSlot,
    UnknownTicket,
)
from pyqueue.backends import UnknownRoom

LUA_DIR: Final = Path(__file__).with_name("lua")

SCRIPT_NAMES: Final = (
    "join",
    "open",
    "tick",
    "phase",
    "leave",
    "complete",
    "control",
    "add_slots",
    "hold",
    "confirm",
    "release_hold",
    "cancel",
    "release",
    "create",
    "free_slots",
    "snapshot",
    "counts",
    "booking",
)


@cache
def source(name: str) -> str:
    """The full text of a script: the shared helpers, then the script itself."""
    # One text per script keeps each atomic step a single EVALSHA.
    parts = ("common", "slotlib", name)
    return "\n".join((LUA_DIR / f"{part}.lua").read_text(encoding="utf-8") for part in parts)


class NeedsDraw(Exception):
    """The room's opening time has come but its pre-queue was not drawn yet."""


_ERRORS: Final[dict[str, tuple[type[PyqueueError], str]]] = {
    "unknown_room": (UnknownRoom, "no such room"),
    "room_closed": (RoomClosed, "the room is closed"),
    "unknown_ticket": (UnknownTicket, "no such ticket in this room"),
    "token_expired": (TokenExpired, "the pass has expired"),
    "not_admitted": (NotAdmitted, "the ticket is not admitted"),
    "unknown_slot": (UnknownSlot, "no such slot"),
    "hold_expired": (HoldExpired, "the hold has expired"),
    "not_holder": (NotHolder, "the slot is held or booked by someone else"),
    "no_hold": (NoHold, "the slot is not held"),
    "no_offer": (NoOffer, "no open offer for this ticket"),
    "unknown_booking": (UnknownBooking, "no such booking"),
    "identity_required": (IdentityRequired, "this room requires an identity"),
    "invalid_argument": (InvalidArgument, "invalid argument"),
    "release_refused": (ReleaseRefused, "the release is refused"),
}


def core_error(cls: type[PyqueueError], code: str, message: str, **attrs: Any) -> PyqueueError:
    """An exception like the core raises: its ``code`` and details on the instance."""
    error = cls(message)
    error.code = code
    for name, value in attrs.items():
        setattr(error, name, value)
    return error


def translate(error: ResponseError) -> Exception:
    """The exception for a script's error reply (``code`` then optional details)."""
    text = str(error)
    code, _, rest = text.partition(" ")
    if code == "needs_draw":
        return NeedsDraw()
    if code == "not_open_yet":
        seconds = int(rest or "0") / 1e6
        return core_error(NotOpenYet, code, "the room is not open yet", opens_in_seconds=seconds)
    if code == "slot_taken":
        slot, _, alternatives = rest.partition(" ")
        return core_error(
            SlotTaken,
            code,
            f"slot {slot!r} is taken",
            slot=slot,
            alternatives=[a for a in alternatives.split(",") if a],
        )
    if code == "duplicate_slot":
        return core_error(DuplicateSlot, code, f"slot {rest!r} exists already", slot=rest)
    if code == "limit_reached":
        return core_error(
            LimitReached, code, "the booking limit is reached", limit=int(rest or "1")
        )
    known = _ERRORS.get(code)
    if known is None:
        return error
    cls, message = known
    if cls is UnknownRoom:
        return UnknownRoom(message)
    return core_error(cls, code, message)
