"""Tokens: every tampering, foreign key, wrong room, wrong kind and expiry has its own exception."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyqueue
from tests.conftest import OPENS_AT, RoomFactory

SECRET = "a-test-secret-of-32-bytes-length!"
NOW = 1_620_000_000


def test_roundtrip_and_info(signer: pyqueue.Signer) -> None:
    token = signer.sign("pass", "kiel", 42, NOW, NOW + 900)
    info = signer.verify(token, room="kiel", kind="pass", now=NOW)
    assert (info.kind, info.room, info.ticket, info.issued_at, info.expires_at) == (
        "pass",
        "kiel",
        42,
        NOW,
        NOW + 900,
    )
    assert token.isascii() and all(c.isalnum() or c in "-_." for c in token)
    assert len(token) < 80


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda t: t + "x", pyqueue.TokenError),
        (lambda t: "", pyqueue.TokenMalformed),
        (lambda t: "not a token", pyqueue.TokenMalformed),
        (lambda t: t.replace(".", "", 1), pyqueue.TokenMalformed),
        (lambda t: "k9" + t[2:], pyqueue.TokenUnknownKey),
        (lambda t: "a" * 600, pyqueue.TokenMalformed),
    ],
)
def test_each_failure_has_its_exception(
    signer: pyqueue.Signer, mutate: object, error: type[Exception]
) -> None:
    token = signer.sign("ticket", "kiel", 1, NOW, NOW + 60)
    with pytest.raises(error):
        signer.verify(mutate(token), now=NOW)  # type: ignore[operator]


def test_expired_wrong_room_wrong_kind(signer: pyqueue.Signer) -> None:
    token = signer.sign("ticket", "kiel", 1, NOW, NOW + 60)
    with pytest.raises(pyqueue.TokenExpired):
        signer.verify(token, now=NOW + 60)
    with pytest.raises(pyqueue.TokenWrongRoom):
        signer.verify(token, room="dresden", now=NOW)
    with pytest.raises(pyqueue.TokenWrongKind) as err:
        signer.verify(token, kind="pass", now=NOW)
    assert err.value.code == "token_wrong_kind"


def test_forged_with_another_secret(signer: pyqueue.Signer) -> None:
    forger = pyqueue.Signer({"k1": "somebody-elses-secret-32-bytes!!"})
    with pytest.raises(pyqueue.TokenBadSignature):
        signer.verify(forger.sign("pass", "kiel", 1, NOW, NOW + 60), now=NOW)


def test_key_rotation_keeps_old_tokens_valid() -> None:
    old = pyqueue.Signer({"k1": SECRET})
    rotated = pyqueue.Signer({"k2": "the-new-secret-of-32-bytes-long!", "k1": SECRET})
    assert rotated.key_ids == ["k2", "k1"]
    token = old.sign("ticket", "kiel", 5, NOW, NOW + 60)
    assert rotated.verify(token, now=NOW).ticket == 5
    assert rotated.sign("ticket", "kiel", 5, NOW, NOW + 60).startswith("k2.")


@pytest.mark.parametrize(
    ("keys", "needle"),
    [({}, "key"), ({"k1": "short"}, "16"), ({"bad id!": SECRET}, "bad id!"), ({"k1": 12}, "k1")],
)
def test_bad_signer_config(keys: dict[str, object], needle: str) -> None:
    with pytest.raises(pyqueue.InvalidConfig, match=needle):
        pyqueue.Signer(keys)  # type: ignore[arg-type]


@given(st.binary(min_size=1, max_size=200))
def test_random_bytes_never_verify(junk: bytes) -> None:
    signer = pyqueue.Signer({"k1": SECRET})
    text = base64.urlsafe_b64encode(junk).decode()
    for candidate in (text, "k1." + text, "k1." + text + "." + text[:22]):
        with pytest.raises(pyqueue.TokenError):
            signer.verify(candidate, now=NOW)


@given(st.data())
def test_every_single_character_change_is_rejected(data: st.DataObject) -> None:
    signer = pyqueue.Signer({"k1": SECRET})
    token = signer.sign("pass", "kiel", data.draw(st.integers(0, 2**32 - 1)), NOW, NOW + 60)
    i = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCXYZabcxyz0189-_.").filter(lambda c: c != token[i]))
    tampered = token[:i] + replacement + token[i + 1 :]
    with pytest.raises(pyqueue.TokenError):
        signer.verify(tampered, now=NOW)


def test_room_refuses_foreign_and_wrong_kind_tokens(
    make_room: RoomFactory, clock: pyqueue.VirtualClock
) -> None:
    kiel, dresden = make_room(id="kiel"), make_room(id="dresden")
    ticket = kiel.join()
    with pytest.raises(pyqueue.TokenWrongRoom):
        dresden.status(ticket.token)
    clock.set(OPENS_AT + timedelta(seconds=1))
    kiel.tick()
    status = kiel.status(ticket.token)
    assert status.pass_token is not None
    # A ticket where a pass is needed.
    with pytest.raises(pyqueue.TokenWrongKind):
        kiel.complete(ticket.token)
    with pytest.raises(pyqueue.TokenWrongKind):
        kiel.verify_pass(ticket.token)
    # The pass outlives nothing: after session_seconds it is expired.
    clock.advance(901)
    with pytest.raises(pyqueue.TokenExpired):
        kiel.verify_pass(status.pass_token)


def test_verify_pass_for_booking_sites(make_room: RoomFactory, clock: pyqueue.VirtualClock) -> None:
    room = make_room()
    clock.set(OPENS_AT + timedelta(seconds=1))
    room.tick()
    status = room.status(room.join().token)
    assert status.pass_token is not None
    info = room.verify_pass(status.pass_token)
    assert info.room == "kiel"
    assert info.expires_at - info.issued_at == timedelta(seconds=900)
