"""The errors of the plain-Python reference: the same names and codes as ``pyqueue``'s."""

from __future__ import annotations


class Error(Exception):
    """Base of every reference error; ``code`` is the same stable code the core uses."""

    code = "error"


class InvalidConfig(Error):
    code = "invalid_config"


class InvalidArgument(Error):
    code = "invalid_argument"


class TokenError(Error):
    code = "token_error"


class TokenMalformed(TokenError):
    code = "token_malformed"


class TokenBadSignature(TokenError):
    code = "token_bad_signature"


class TokenUnknownKey(TokenError):
    code = "token_unknown_key"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"the token was signed with unknown key id {key_id!r}")
        self.key_id = key_id


class TokenExpired(TokenError):
    code = "token_expired"


class TokenWrongRoom(TokenError):
    code = "token_wrong_room"


class TokenWrongKind(TokenError):
    code = "token_wrong_kind"


class NotOpenYet(Error):
    code = "not_open_yet"

    def __init__(self, opens_in_seconds: float) -> None:
        super().__init__(f"the room is not open yet; it opens in {opens_in_seconds:.0f} s")
        self.opens_in_seconds = opens_in_seconds


class RoomClosed(Error):
    code = "room_closed"


class IdentityRequired(Error):
    code = "identity_required"


class UnknownTicket(Error):
    code = "unknown_ticket"


class NotAdmitted(Error):
    code = "not_admitted"


class UnknownSlot(Error):
    code = "unknown_slot"

    def __init__(self, slot: str) -> None:
        super().__init__(f"no slot with id {slot!r}")
        self.slot = slot


class DuplicateSlot(Error):
    code = "duplicate_slot"

    def __init__(self, slot: str) -> None:
        super().__init__(f"slot id {slot!r} is given twice or exists already")
        self.slot = slot


class SlotTaken(Error):
    code = "slot_taken"

    def __init__(self, slot: str, alternatives: list[str]) -> None:
        super().__init__(f"slot {slot!r} is already taken")
        self.slot = slot
        self.alternatives = alternatives


class LimitReached(Error):
    code = "limit_reached"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the limit of {limit} holds and bookings per visitor is reached")
        self.limit = limit


class HoldExpired(Error):
    code = "hold_expired"


class NotHolder(Error):
    code = "not_holder"


class NoHold(Error):
    code = "no_hold"


class UnknownBooking(Error):
    code = "unknown_booking"


class NoOffer(Error):
    code = "no_offer"


class ReleaseRefused(Error):
    code = "release_refused"

    def __init__(self, reason: str, next_window: int | None) -> None:
        super().__init__(f"release refused: {reason}")
        self.next_window = next_window
