"""Entry tokens on the join routes: what a join of an entry room (``identity = "entry"``)
must bring, checked before the room asks for anything else.

A join of an entry room carries the portal's entry token, or resumes a ticket the visitor
holds. The token is checked here without using up its ``jti`` (signature, algorithm, audience,
lifetime: the core's ``EntryVerifier.verify``), so that a forged, expired or foreign token is
refused before a proof-of-work challenge is asked for, and a visitor who is sent to do the work
comes back with the same token. The join itself uses the ``jti`` up (the backend, once across
every process).
"""

from __future__ import annotations

from typing import Any

from pyqueue.backends import entry_verifier
from pyqueue.server.errors import ApiError
from pyqueue.server.httpio import MAX_ENTRY_TOKEN_CHARS, optional_string
from pyqueue.server.state import RoomMeta, ServerState


def entry_token(data: dict[str, Any], meta: RoomMeta, resume: str | None) -> str | None:
    """The portal's entry token of a join body. In an entry room a plain identity is refused
    (anybody can type one, only the portal can sign one), and so is a join that brings neither
    a token nor a ticket to resume."""
    entry = optional_string(data, "entry", MAX_ENTRY_TOKEN_CHARS)
    if not meta.entry_only or entry is not None:
        return entry
    if "identity" in data:
        raise ApiError(
            "entry_required",
            'this room takes the portal\'s entry token ({"entry": "..."}), not an identity',
        )
    if resume is None:
        raise ApiError(
            "entry_required", "this room admits joins only with an entry token from the portal"
        )
    return None


def check_entry(state: ServerState, meta: RoomMeta, entry: str) -> None:
    """Raises the ``EntryError`` of a token the join would refuse, but leaves its ``jti``
    unused."""
    entry_verifier(state.entry).verify(entry, meta.id, state.token_now())
