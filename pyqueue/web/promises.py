"""What the page says about several devices, arriving early, coming back and booking limits,
chosen by the room's mode, so that every sentence is true where it is shown.

The modes: the pre-queue is drawn at opening (``shuffle``) or kept in the order of arrival
(``fifo``); the identity is vouched for by the portal (``entry``: one person, one place, on any
device) or not (``optional``, ``required``: a code the visitor types is only a label, so each
browser that joins has a place of its own). Before the draw, a second place is another draw; after
it, a new place is at the end. Reloading keeps the place in every mode (the ticket cookie), so
that sentence needs no choice. The texts themselves are in ``texts/*.json``.
"""

from __future__ import annotations

from typing import Final

#: Identity modes in which the portal vouches for the person: the same identity is the same
#: place on every device, and booking limits hold per person.
VOUCHED_IDENTITIES: Final = frozenset({"entry"})


def vouched(identity: str) -> bool:
    return identity in VOUCHED_IDENTITIES


def devices_key(identity: str, prequeue: str, before_draw: bool) -> str:
    """The sentence on a second device, for a visitor who holds a place."""
    if vouched(identity):
        return "devices_vouched"
    if not before_draw:
        return "devices_queue"
    return "devices_draw" if prequeue == "shuffle" else "devices_fifo_prequeue"


def arriving_key(prequeue: str) -> str:
    """The sentence on arriving early, in the pre-queue."""
    return "prequeue_fair_shuffle" if prequeue == "shuffle" else "prequeue_fair_fifo"


def not_open_key(prequeue: str) -> str:
    """The sentence on arriving early, before the pre-queue itself opens."""
    return "not_open_text_shuffle" if prequeue == "shuffle" else "not_open_text_fifo"


def ended_key(state: str, prequeue: str, before_draw: bool) -> str:
    """Why a place ended (expired, abandoned, left) and where a new one would be. A turn can
    only expire or lapse after the draw; leaving before a draw and joining again is a new
    place in that draw."""
    if state == "left" and before_draw and prequeue == "shuffle":
        return "left_text_draw"
    return f"{state}_text"


def limit_key(identity: str) -> str:
    """The booking limit: per person where identities are vouched, else per place."""
    return "limit_text_person" if vouched(identity) else "limit_text_place"
