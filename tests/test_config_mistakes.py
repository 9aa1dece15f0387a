"""`check-config` and `serve` before anything starts: TLS files that are missing or do not
load are refused naming the setting and the path, every mistake of a file is reported at once
(a room's range checks in the core included), and a misspelt key gets the setting it is closest
to. The admin API reports a room's mistakes the same way."""

from __future__ import annotations

import subprocess

import pytest

import pyqueue
from pyqueue.cli import main
from pyqueue.config import ConfigError, load_settings, room_config_from_mapping
from tests.helpers.api import ADMIN, OPENS_AT, start_api

GOOD = """
[server]
admin_token = "an-admin-token-of-some-length"
secrets = {{ k1 = "a-secret-of-at-least-32-bytes!!!" }}
{server_extra}

[[rooms]]
id = "kiel"
opens_at = 2021-05-10T07:00:00+02:00
{room_extra}
"""


def config(tmp_path, server_extra="", room_extra=""):
    path = tmp_path / "pyqueue.toml"
    path.write_text(GOOD.format(server_extra=server_extra, room_extra=room_extra))
    return path


def test_check_config_refuses_tls_files_that_do_not_exist(tmp_path, capsys):
    path = config(tmp_path, 'tls_cert = "certs/cert.pem"\ntls_key = "certs/key.pem"')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"server.tls_cert: no such file: {tmp_path / 'certs' / 'cert.pem'}" in err
    assert f"server.tls_key: no such file: {tmp_path / 'certs' / 'key.pem'}" in err


def test_serve_refuses_missing_tls_files_before_it_creates_the_data_folder(tmp_path, capsys):
    path = config(tmp_path, 'tls_cert = "cert.pem"\ntls_key = "key.pem"\ndata_dir = "state"')
    assert main(["serve", "--config", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "server.tls_cert: no such file" in err and "No such file or directory" not in err
    assert not (tmp_path / "state").exists()


def test_tls_files_that_do_not_load_as_a_pair_are_refused(tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    (tmp_path / "key.pem").write_text("not a key\n")
    path = config(tmp_path, 'tls_cert = "cert.pem"\ntls_key = "key.pem"')
    with pytest.raises(ConfigError, match=r"server\.tls_cert and server\.tls_key: cannot load"):
        load_settings(path, env={})


def test_a_real_certificate_and_key_are_accepted(tmp_path):
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-nodes", "-subj", "/CN=localhost", "-days", "1"),
            *("-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    settings = load_settings(config(tmp_path, 'tls_cert = "cert.pem"\ntls_key = "key.pem"'), env={})
    assert settings.server.ssl_context() is not None


def test_every_mistake_is_reported_at_once(tmp_path, capsys):
    path = config(
        tmp_path,
        server_extra='port = "eighty"\nlog_level = "loud"\nmax_connections = 0',
        room_extra='prequeue = "lottery"\n\n[[rooms]]\nid = "husum"',
    )
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "pyqueue: 5 mistakes:\n" in err
    for named in (
        "server.port",
        "server.log_level",
        "server.max_connections",
        "room 'kiel': prequeue",
        "room 'husum': opens_at is missing",
    ):
        assert named in err, named


def test_a_misspelt_key_gets_a_did_you_mean(tmp_path):
    path = config(tmp_path, 'tls_cret = "cert.pem"', 'admit_per_minut = 60\nslot_file = "s.csv"')
    with pytest.raises(ConfigError) as refused:
        load_settings(path, env={})
    message = str(refused.value)
    assert "tls_cret (did you mean tls_cert?)" in message
    assert "admit_per_minut (did you mean admit_per_minute?)" in message
    assert "slot_file (did you mean slots_file?)" in message
    assert len(refused.value.problems) == 2


def test_a_key_like_nothing_known_is_named_without_a_guess(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_settings(config(tmp_path, "", "xyzzy = 1"), env={})
    assert str(refused.value) == "unknown setting(s) of room 'kiel': xyzzy"


def test_room_settings_from_the_admin_api_report_every_mistake_too():
    with pytest.raises(ConfigError) as refused:
        room_config_from_mapping("husum", {"admit_per_minute": "many", "sesion_seconds": 900})
    assert refused.value.problems == (
        "unknown setting(s) of room: sesion_seconds (did you mean session_seconds?)",
        "room: opens_at is missing",
        "room: admit_per_minute must be a number",
    )


# A room with mistakes of both kinds: a mode and a type the config reader refuses, and values
# only the core's rules refuse (ranges, times in order, time zone, release windows).
ROOM_MISTAKES = """prequeue = "lottery"
hold_seconds = "long"
max_active = 0
offer_seconds = 100000
closes_at = 2021-05-10T06:00:00+02:00
timezone = "Mars/Olympus"
release_windows = ["Mon 07:00", "Mon 25:00"]"""


def test_every_mistake_of_one_room_is_reported_the_readers_and_the_cores(tmp_path, capsys):
    assert main(["check-config", str(config(tmp_path, room_extra=ROOM_MISTAKES))]) == 2
    err = capsys.readouterr().err
    assert "pyqueue: 7 mistakes:\n" in err
    for named in (
        "room 'kiel': prequeue must be one of shuffle, fifo",
        "room 'kiel': hold_seconds must be an integer",
        "room 'kiel': max_active must be between 1 and 1000000, got 0",
        "room 'kiel': offer_seconds must be between 1 and 86400, got 100000",
        "room 'kiel': closes_at must be after opens_at",
        "room 'kiel': unknown timezone \"Mars/Olympus\"",
        "room 'kiel': release window \"Mon 25:00\"",
    ):
        assert named in err, named


def test_a_setting_the_reader_refuses_is_not_judged_again_by_the_core(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_settings(config(tmp_path, room_extra="opens_at_x = 1\nmax_active = -1"), env={})
    assert refused.value.problems == (
        "unknown setting(s) of room 'kiel': opens_at_x (did you mean opens_at?)",
        "room 'kiel': max_active must be between 1 and 1000000, got -1",
    )


def test_the_core_lists_every_mistake_and_raises_one_exception_naming_them():
    assert pyqueue.RoomConfig.mistakes(
        "kiel",
        {"opens_at": OPENS_AT, "max_active": 0, "prequeue": "lottery", "timezone": "Mars/Olympus"},
    ) == [
        "max_active must be between 1 and 1000000, got 0",
        'prequeue must be "shuffle" or "fifo", got "lottery"',
        'unknown timezone "Mars/Olympus" (expected an IANA name such as "Europe/Berlin" or "UTC")',
    ]
    # Settings not given are not judged: no opens_at, so no order of times either.
    assert pyqueue.RoomConfig.mistakes("kiel", {"closes_at": OPENS_AT}) == []
    assert pyqueue.RoomConfig.mistakes("a b", {"hold_seconds": 0, "colour": "red"}) == [
        'unknown setting "colour"',
        "hold_seconds must be between 1 and 86400, got 0",
        'room id "a b" must be 1 to 64 characters of A-Z a-z 0-9 _ -',
    ]
    with pytest.raises(pyqueue.InvalidConfig) as refused:
        pyqueue.RoomConfig("kiel", OPENS_AT, max_active=0, offer_seconds=-1)
    assert str(refused.value) == (
        "invalid room configuration: 2 mistakes: max_active must be between 1 and 1000000, "
        "got 0; offer_seconds must be between 1 and 86400, got -1"
    )
    # One mistake reads as before.
    with pytest.raises(pyqueue.InvalidConfig, match=r"^invalid room configuration: max_active"):
        pyqueue.RoomConfig("kiel", OPENS_AT, max_active=0)


async def test_the_admin_api_answers_every_mistake_of_a_room_at_once(aiohttp_client):
    api = await start_api(aiohttp_client)
    settings = {
        "opens_at": "2021-05-11T07:00:00+02:00",
        "sesion_seconds": 900,
        "prequeue": "lottery",
        "max_active": 0,
        "offer_seconds": 2**31,
        "release_windows": ["Mon 07:00", "Mon 25:00"],
    }
    _, body = await api.json("PUT", "/v1/admin/rooms/husum", 400, headers=ADMIN, json=settings)
    assert body["error"]["code"] == "invalid_config"
    assert body["error"]["problems"] == [
        "unknown setting(s) of room: sesion_seconds (did you mean session_seconds?)",
        "room: prequeue must be one of shuffle, fifo",
        "room: max_active must be between 1 and 1000000, got 0",
        "room: offer_seconds must be between 1 and 86400, got 2147483648",
        'room: release window "Mon 25:00": the hour in "25:00" is not between 00 and 23',
    ]
    assert body["error"]["message"].startswith("5 mistakes:\n- unknown setting(s)")
    change = {"identity": "anyone", "hold_seconds": 0, "timezone": "Mars/Olympus"}
    _, body = await api.json("PATCH", "/v1/admin/rooms/kiel", 400, headers=ADMIN, json=change)
    assert body["error"]["problems"] == [
        "room: identity must be one of optional, required, entry",
        "room: hold_seconds must be between 1 and 86400, got 0",
        'room: unknown timezone "Mars/Olympus" (expected an IANA name such as "Europe/Berlin" '
        'or "UTC")',
    ]
    # A lone mistake is a list of one.
    _, body = await api.json(
        "PATCH", "/v1/admin/rooms/kiel", 400, headers=ADMIN, json={"id": "other"}
    )
    assert body["error"]["problems"] == ["a room's id cannot change"]
