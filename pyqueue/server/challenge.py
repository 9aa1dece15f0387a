"""Proof of work on join: the HTTP side of the core's ALTCHA challenges.

In a room with ``challenge_max_number`` above 0, a join that would take a new place must carry
a solved challenge (``{"challenge": "<base64 payload>"}`` in the join body, or the ``challenge``
field of the page's join form; never in a query string). A join without one is answered 428
``challenge_required`` with a fresh challenge in the error body; every refused solution is
answered with its own code and a fresh challenge too, so that a client simply solves again. A
solution admits one join: the backend remembers it (across processes on Redis) until its
challenge expires. A visitor who already holds a ticket of the room resumes without new work.

The checks themselves (signature, number, room, expiry) are the core's
(``pyqueue.verify_challenge``); this module decodes the payload and spends the solution.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

import orjson

from pyqueue._core import (
    ChallengeError,
    TokenError,
    new_challenge,
    verify_challenge,
)
from pyqueue.server.errors import ApiError
from pyqueue.server.state import RoomMeta, ServerState

#: A payload this server's challenges produce is about 400 characters.
MAX_PAYLOAD_CHARS: Final = 2048


def fresh_challenge(state: ServerState, meta: RoomMeta) -> dict[str, Any]:
    """A new challenge of the room's difficulty, at the rooms' time."""
    return new_challenge(state.signer, meta.id, meta.challenge_max_number, state.token_now())


def holds_ticket(state: ServerState, meta: RoomMeta, token: str | None) -> bool:
    """Whether ``token`` is a valid ticket of the room: its holder paid when it was issued."""
    if token is None:
        return False
    try:
        state.signer.verify(token, room=meta.id, kind="ticket", now=state.token_now())
    except TokenError:
        return False
    return True


def decode(payload: object) -> dict[str, Any]:
    """The JSON object inside a base64 payload; raises ``challenge_malformed``."""
    if not isinstance(payload, str) or not payload or len(payload) > MAX_PAYLOAD_CHARS:
        raise _malformed(f"challenge must be a base64 string of at most {MAX_PAYLOAD_CHARS} chars")
    try:
        decoded = orjson.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _malformed("challenge must be base64 of an ALTCHA solution's JSON") from None
    if not isinstance(decoded, dict):
        raise _malformed("challenge must be base64 of a JSON object")
    return decoded


async def pay_for_join(
    state: ServerState, meta: RoomMeta, payload: object | None, resume: str | None
) -> None:
    """Lets a join through that needs no work, or whose work is valid and unspent; raises an
    :class:`ApiError` carrying a fresh challenge otherwise."""
    if meta.challenge_max_number == 0 or holds_ticket(state, meta, resume):
        return
    if payload is None:
        raise refusal(
            state, meta, "challenge_required", "this room asks for a solved challenge to join"
        )
    try:
        solution = decode(payload)
        until = verify_challenge(state.signer, solution, meta.id, state.token_now())
    except ChallengeError as exc:
        code = str(getattr(exc, "code", "challenge_malformed"))
        raise refusal(state, meta, code, str(exc)) from None
    except ApiError as exc:
        raise refusal(state, meta, exc.code, exc.message) from None
    if not await state.backend.use_challenge(meta.id, str(solution["challenge"]), until):
        raise refusal(
            state, meta, "challenge_replayed", "this solution was used already; solve a new one"
        )
    state.metrics.challenges_solved += 1


def refusal(state: ServerState, meta: RoomMeta, code: str, message: str) -> ApiError:
    state.metrics.challenge_refusals[code] += 1
    return ApiError(code, message, details={"challenge": fresh_challenge(state, meta)})


def _malformed(message: str) -> ApiError:
    return ApiError("challenge_malformed", message)
