"""The saved state's byte format, as tests that write or look into journals and snapshots need
it."""

from __future__ import annotations


def varint(value: int) -> bytes:
    """A number as the saved state holds it (LEB128, ``codec::put_varint``)."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
