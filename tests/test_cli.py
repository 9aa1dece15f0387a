"""The pyqueue command: check-config, openapi, nginx-config, and serve's argument handling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pyqueue.cli import main, serve_main
from pyqueue.server import openapi_document
from pyqueue.server.caddy import caddy_sidecar_config
from pyqueue.server.nginx import nginx_sidecar_config
from tests.helpers.server import ROOT

GOOD = """
[server]
admin_token = "an-admin-token-of-some-length"
secrets = { k1 = "a-secret-of-at-least-32-bytes!!!" }

[[rooms]]
id = "kiel"
opens_at = 2021-05-10T07:00:00+02:00
"""


def test_check_config_describes_without_secrets(tmp_path, capsys):
    path = tmp_path / "pyqueue.toml"
    path.write_text(GOOD)
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    described = json.loads(out)
    assert described["rooms"] == ["kiel"] and described["admin_api"] is True
    assert described["key_ids"] == ["k1"]
    assert "a-secret-of" not in out and "an-admin-token" not in out


def test_check_config_names_the_mistake(tmp_path, capsys):
    path = tmp_path / "pyqueue.toml"
    path.write_text(GOOD.replace("opens_at = 2021-05-10T07:00:00+02:00", "opens_at = 'soon'"))
    assert main(["check-config", str(path)]) == 2
    assert "opens_at" in capsys.readouterr().err


def test_openapi_to_a_file_and_to_stdout(tmp_path, capsys):
    target = tmp_path / "openapi.json"
    assert main(["openapi", "--output", str(target)]) == 0
    written = json.loads(target.read_text())
    assert written == json.loads(json.dumps(openapi_document()))
    assert main(["openapi"]) == 0
    assert json.loads(capsys.readouterr().out) == written


def test_nginx_config(capsys):
    assert main(["nginx-config", "--room", "kiel"]) == 0
    assert capsys.readouterr().out == nginx_sidecar_config("kiel")
    assert main(["nginx-config", "--room", "bad room"]) == 2
    # A trailing newline would end up inside the generated nginx directives.
    assert main(["nginx-config", "--room", "kiel\n"]) == 2
    assert "a room id is 1 to 64 characters" in capsys.readouterr().err
    assert main(["nginx-config", "--room", "kiel", "--booking", "x;y"]) == 2


def test_nginx_config_fails_closed_unless_told_to_fail_open(capsys):
    assert main(["nginx-config", "--room", "kiel"]) == 0
    closed = capsys.readouterr().out
    assert "fail closed" in closed and "return 503" in closed
    assert main(["nginx-config", "--room", "kiel", "--on-unavailable", "open"]) == 0
    opened = capsys.readouterr().out
    assert opened == nginx_sidecar_config("kiel", on_unavailable="open")
    assert "fail open" in opened
    with pytest.raises(SystemExit) as refused:
        main(["nginx-config", "--room", "kiel", "--on-unavailable", "ajar"])
    assert refused.value.code == 2
    assert "--on-unavailable" in capsys.readouterr().err


def test_caddy_config(capsys):
    assert main(["caddy-config", "--room", "kiel"]) == 0
    assert capsys.readouterr().out == caddy_sidecar_config("kiel")
    assert main(["caddy-config", "--room", "kiel", "--site", "booking.example.org"]) == 0
    assert capsys.readouterr().out.count("\nbooking.example.org {\n") == 1
    # Anything that could end the site address or a directive is refused, naming the option.
    for bad in (["--room", "kiel\n"], ["--room", "kiel", "--booking", "x y"]):
        assert main(["caddy-config", *bad]) == 2
    assert main(["caddy-config", "--room", "kiel", "--site", "a.org {\nrespond 1"]) == 2
    assert "site:" in capsys.readouterr().err


def test_serve_refuses_bad_arguments(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 'x'\n")
    assert main(["serve", "--config", str(path)]) == 2
    assert "server.port" in capsys.readouterr().err
    assert serve_main(["--config", str(path)]) == 2
    assert serve_main(["--virtual-clock", "yesterday-ish"]) == 2
    assert "--virtual-clock" in capsys.readouterr().err
    assert serve_main(["--virtual-clock", "now", "--virtual-clock-speed", "-1"]) == 2
    with pytest.raises(SystemExit):
        main(["serve", "--port", "eighty"])
    with pytest.raises(SystemExit):
        main([])


def test_server_py_is_serve():
    answer = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        timeout=120,
    )
    assert answer.returncode == 0
    for option in ("--config", "--host", "--port", "--virtual-clock"):
        assert option in answer.stdout


def test_a_port_in_use_is_reported(tmp_path, capsys, monkeypatch):
    import socket

    # Serving configures the process's logging; not in the middle of a test run.
    monkeypatch.setattr("pyqueue.server.logs.configure_logging", lambda *a, **k: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "pyqueue.toml"
        path.write_text(GOOD)
        code = main(["serve", "--config", str(path), "--port", str(port)])
    assert code == 1
    assert "cannot listen" in capsys.readouterr().err


def test_a_room_directory_that_is_a_plain_file_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("pyqueue.server.logs.configure_logging", lambda *a, **k: None)
    path = tmp_path / "pyqueue.toml"
    path.write_text(GOOD)
    room_dir = tmp_path / "pyqueue-data" / "rooms" / "kiel"
    room_dir.parent.mkdir(parents=True)
    room_dir.write_text("")
    assert main(["serve", "--config", str(path), "--port", "0"]) == 3
    err = capsys.readouterr().err
    assert f"{room_dir} is a file, not a directory" in err and "cannot listen" not in err


def test_journal_check_and_repair_refuse_a_folder_that_holds_no_saved_state(tmp_path, capsys):
    assert main(["journal", "check", str(tmp_path)]) == 2
    assert "neither a data_dir" in capsys.readouterr().err
    assert main(["journal", "repair", str(tmp_path / "missing"), "--yes"]) == 2


def test_bench_surge_passes_its_options_on_unchanged(monkeypatch):
    given: list[list[str]] = []
    monkeypatch.setattr("pyqueue.surge.run.main", lambda options: given.append(options) or 0)
    assert main(["bench", "surge", "--backend", "both", "saxony", "--scale", "1"]) == 0
    assert given == [["--backend", "both", "saxony", "--scale", "1"]]


def test_bench_surge_gets_its_options_in_the_order_given(capsys):
    # `pyqueue bench surge --backend both` (the README's and `make bench`'s command) once lost
    # the options' values to the top-level parser. Here the options are read as given, so the
    # replays' own check of the scale answers (and nothing is replayed).
    assert main(["bench", "surge", "--backend", "memory", "--scale", "2", "saxony"]) == 2
    error = capsys.readouterr().err
    assert "scale must be in (0, 1], not 2.0" in error
    assert "expected one argument" not in error
