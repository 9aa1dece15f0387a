"""Redis key names. Every key of a room carries the hash tag ``{pyq:<room>}``, so a room lives in
one Redis Cluster slot and a Lua script may touch all of its keys atomically.

The scripts receive the room's ``meta`` key as ``KEYS[1]`` (which routes them to the right
cluster node) and derive the room's other keys from its prefix; all of them share the slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: The set of room ids. Outside every room's hash tag: read and written by plain commands only.
ROOMS_KEY: Final = "pyq:rooms"


def entry_jti_key(jti: str) -> str:
    """String, until the entry token expires: its ``jti`` was accepted. Outside every room's
    hash tag (a token may name several rooms in ``aud`` and is accepted once in all of them)."""
    return "pyq:entry-jti:" + jti


@dataclass(frozen=True, slots=True)
class RoomKeys:
    """The keys of one room."""

    room: str

    @property
    def prefix(self) -> str:
        return f"{{pyq:{self.room}}}:"

    @property
    def meta(self) -> str:
        """Hash: counters, cursor, flags and the numeric settings the scripts need."""
        return self.prefix + "meta"

    @property
    def config(self) -> str:
        """String: the room's settings as JSON (the source of ``RoomConfig``)."""
        return self.prefix + "config"

    @property
    def tickets(self) -> str:
        """Hash: ticket id -> ``state|position|joined|seen|admitted|expires|ahead0``."""
        return self.prefix + "t"

    @property
    def prequeue(self) -> str:
        """List: ticket ids in join order before the draw (kept afterwards: the draw's input)."""
        return self.prefix + "pre"

    @property
    def changes(self) -> str:
        """List of ``ticket:position`` for tickets changed by an action (leave, rejoin, complete);
        position is the queue place a waiting ticket gave up, or -1. Caches read it from the end
        they know."""
        return self.prefix + "changes"

    @property
    def seen(self) -> str:
        """Hash: ticket id -> last heartbeat (micros), flushed in batches by each process."""
        return self.prefix + "seen"

    @property
    def ids(self) -> str:
        """Hash: identity pseudonym -> ticket id (one person, one place). A room created
        before identities were hashed (no ``identity_key``) keeps the portal's values."""
        return self.prefix + "ids"

    @property
    def identity_key(self) -> str:
        """String: the key of the room's identity pseudonyms (``identity_pseudonym``), 64 hex
        digits, set once when the room is created."""
        return self.prefix + "idkey"

    @property
    def labels(self) -> str:
        """Hash: ticket id -> the label its visitor's client sent; unlike the identity index
        (``ids``) it finds no ticket."""
        return self.prefix + "labels"

    @property
    def draw(self) -> str:
        """Hash: the recorded draw (seed, at, mode)."""
        return self.prefix + "draw"

    @property
    def order(self) -> str:
        """Hash: queue position -> ticket id."""
        return self.prefix + "order"

    @property
    def audit(self) -> str:
        """List: audit entries as JSON."""
        return self.prefix + "audit"

    @property
    def slots(self) -> str:
        """Hash: slot id -> ``state|holder|until|code``."""
        return self.prefix + "slots"

    @property
    def slot_info(self) -> str:
        """Hash: slot id -> ``group|starts_at`` (micros)."""
        return self.prefix + "slotinfo"

    @property
    def groups(self) -> str:
        """Zset: group names, scored by their first load."""
        return self.prefix + "groups"

    @property
    def codes(self) -> str:
        """Hash: live booking code -> slot id."""
        return self.prefix + "codes"

    @property
    def cancelled(self) -> str:
        """Hash: cancelled booking code -> ``slot id|ticket|cancelled at`` (micros); the code
        keeps answering with the cancelled booking (one entry per booking ever cancelled)."""
        return self.prefix + "cancelled"

    @property
    def free(self) -> str:
        """Zset of equal scores: ``group NUL start id`` per free slot (start as 17 digits), so
        in listing order, one group being one range; kept by every script that changes a slot
        (``sput`` in slotlib.lua), so a listing reads a page, not every slot."""
        return self.prefix + "free"

    def used_challenge(self, challenge: str) -> str:
        """String with an expiry: a proof-of-work solution spent (``SET NX PX``)."""
        return self.prefix + "pow:" + challenge
