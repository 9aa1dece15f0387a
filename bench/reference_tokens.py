"""Signed tokens in plain Python: the same format and checks as ``queue_core/src/token.rs``.

``<kid>.<base64url(payload)>.<base64url(mac)>``, where the payload is version, kind, the ticket
as a LEB128 varint, issued-at and the expiry delta as zigzag varints, and the room with a length
byte; the MAC is the first 16 bytes of HMAC-SHA256(key, kid || 0x00 || payload). The output is
byte for byte what the core signs, so either side verifies the other's tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import NamedTuple

from bench.reference_errors import (
    InvalidConfig,
    TokenBadSignature,
    TokenExpired,
    TokenMalformed,
    TokenUnknownKey,
    TokenWrongKind,
    TokenWrongRoom,
)

MAX_ROOM_LEN = 64
MAX_TOKEN_LEN = 512
MIN_SECRET_LEN = 16
FORMAT_VERSION = 1
MAC_LEN = 16
MAC_B64_LEN = 22

KIND_CODES = {"ticket": 1, "pass": 2}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}

_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_TOKEN = re.compile(r"([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{2,})\.([A-Za-z0-9_-]{22})")
_U64 = (1 << 64) - 1


class TokenInfo(NamedTuple):
    """What a verified token says."""

    kind: str
    room: str
    ticket: int
    issued_at: int
    expires_at: int


def _zigzag(value: int) -> int:
    return ((value << 1) ^ (value >> 63)) & _U64


def _push_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # The token's shape was matched against the URL-safe alphabet already.
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_payload(kind: str, room: str, ticket: int, issued_at: int, expires_at: int) -> bytes:
    payload = bytearray((FORMAT_VERSION, KIND_CODES[kind]))
    _push_varint(payload, ticket)
    _push_varint(payload, _zigzag(issued_at))
    # The delta wraps like the core's i64 arithmetic.
    delta = (expires_at - issued_at + (1 << 63)) % (1 << 64) - (1 << 63)
    _push_varint(payload, _zigzag(delta))
    room_bytes = room.encode()
    if len(room_bytes) > MAX_ROOM_LEN:
        raise ValueError(f"room id of {len(room_bytes)} bytes is longer than {MAX_ROOM_LEN}")
    payload.append(len(room_bytes))
    payload += room_bytes
    return bytes(payload)


def parse_payload(payload: bytes) -> TokenInfo:
    """Parses exactly one well-formed version-1 record, or raises ``TokenMalformed``.

    The three varints (ticket, issued-at, expiry delta) are read in one pass; each must be
    minimal LEB128 of at most 64 bits, so every set of claims has exactly one encoding.
    """
    if len(payload) < 6 or payload[0] != FORMAT_VERSION or payload[1] not in KIND_NAMES:
        raise TokenMalformed
    fields: list[int] = []
    value = shift = 0
    pos = 2
    try:
        while len(fields) < 3:
            byte = payload[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if (byte == 0 and shift) or (shift == 63 and byte > 1):
                    raise TokenMalformed
                fields.append(value)
                value = shift = 0
            else:
                shift += 7
                if shift > 63:
                    raise TokenMalformed
        room_len = payload[pos]
    except IndexError:
        raise TokenMalformed from None
    pos += 1
    ticket, issued, delta = fields
    if ticket > 0xFFFF_FFFF or room_len > MAX_ROOM_LEN or pos + room_len != len(payload):
        raise TokenMalformed
    try:
        room = payload[pos:].decode()
    except UnicodeDecodeError:
        raise TokenMalformed from None
    issued_at = (issued >> 1) ^ -(issued & 1)
    expires_at = issued_at + ((delta >> 1) ^ -(delta & 1))
    return TokenInfo(KIND_NAMES[payload[1]], room, ticket, issued_at, expires_at)


class _KeyedMac:
    """HMAC-SHA256 (RFC 2104) keyed once: the hash states after the padded key are kept and
    copied per token, as the core keeps its keyed ``Hmac``, so no token re-hashes the key."""

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def tag(self, message: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:MAC_LEN]


class Signer:
    """Token keys by id: the first signs, every key verifies."""

    def __init__(self, keys: Mapping[str, str | bytes]) -> None:
        if not keys:
            raise InvalidConfig("at least one token key is needed")
        self._keys: dict[str, _KeyedMac] = {}
        for kid, secret in keys.items():
            key = secret.encode() if isinstance(secret, str) else bytes(secret)
            if not _KID.fullmatch(kid):
                raise InvalidConfig(f"token key id {kid!r} is not 1 to 32 of A-Z a-z 0-9 _ -")
            if len(key) < MIN_SECRET_LEN:
                raise InvalidConfig(f"the secret of token key {kid!r} is too short")
            self._keys[kid] = _KeyedMac(key)
        self._kid = next(iter(self._keys))
        self._signing_key = self._keys[self._kid]
        self._signing_prefix = self._kid.encode() + b"\0"

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def sign(self, kind: str, room: str, ticket: int, issued_at: int, expires_at: int) -> str:
        payload = encode_payload(kind, room, ticket, issued_at, expires_at)
        tag = self._signing_key.tag(self._signing_prefix + payload)
        return f"{self._kid}.{_b64encode(payload)}.{_b64encode(tag)}"

    def verify(
        self,
        token: str,
        room: str | None = None,
        kind: str | None = None,
        now: int | None = None,
    ) -> TokenInfo:
        """Checks format, key, MAC (constant time), then kind, room and expiry, in that order."""
        matched = _TOKEN.fullmatch(token) if len(token) <= MAX_TOKEN_LEN else None
        if matched is None:
            raise TokenMalformed
        kid, payload_b64, tag_b64 = matched.groups()
        try:
            payload = _b64decode(payload_b64)
            tag = _b64decode(tag_b64)
        except (binascii.Error, ValueError):
            raise TokenMalformed from None
        info = parse_payload(payload)
        key = self._keys.get(kid)
        if key is None:
            raise TokenUnknownKey(kid)
        if not hmac.compare_digest(key.tag(kid.encode() + b"\0" + payload), tag):
            raise TokenBadSignature
        if kind is not None and kind != info.kind:
            raise TokenWrongKind
        if room is not None and room != info.room:
            raise TokenWrongRoom
        if now is not None and now >= info.expires_at:
            raise TokenExpired
        return info
