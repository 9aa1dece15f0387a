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

from pyqueue import _core
from pyqueue._core import (
    DuplicateSlot,
    LimitReached,
    PyqueueError,
    SlotTaken,
    error_codes,
    not_open_yet,
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
    "expire",
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
    "forget",
)


@cache
def source(name: str) -> str:
    """The full text of a script: the shared helpers, then the script itself."""
    # One text per script keeps each atomic step a single EVALSHA.
    parts = ("common", "slotlib", name)
    # The core's constants the scripts count with, so that each has one source.
    constants = f"local RECENT_STRETCH_US = {_core.RECENT_STRETCH_MICROS}"
    scripts = ((LUA_DIR / f"{part}.lua").read_text(encoding="utf-8") for part in parts)
    return "\n".join((constants, *scripts))


class NeedsDraw(Exception):
    """The room's opening time has come but its pre-queue was not drawn yet."""


_CORE_CODES: Final = frozenset(error_codes())


def core_exception(code: str) -> type[PyqueueError] | None:
    """The core's exception of an error code, or None if the core has no such code.

    The core names each code's class by the code in CamelCase, so the codes' one list
    (``error_codes()``) is all a script's error reply is checked against.
    """
    if code not in _CORE_CODES:
        return None
    cls: type[PyqueueError] = getattr(_core, code.title().replace("_", ""))
    return cls


def summary(cls: type[PyqueueError]) -> str:
    """The first line of the class's docstring as a message: ``no such ticket in this room``."""
    text = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
    return text[:1].lower() + text[1:]


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
        opens_at, _, now = rest.partition(" ")
        return not_open_yet(int(opens_at), int(now))
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
    if code == UnknownRoom.code:
        return UnknownRoom("no such room")
    cls = core_exception(code)
    if cls is None:
        # Not a code of ours: the server answers 500 and logs it.
        return error
    return core_error(cls, code, summary(cls))
