"""`check-config` and `serve` before anything starts: TLS files that are missing or do not
load are refused naming the setting and the path, every mistake of a file is reported at once,
and a misspelt key gets the setting it is closest to."""

from __future__ import annotations

import subprocess

import pytest

from pyqueue.cli import main
from pyqueue.config import ConfigError, load_settings, room_config_from_mapping

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
