"""The Makefile's install sets: ``make serve`` installs what serving needs, ``make test``
everything. Read from a dry run (``make -n``) against a virtualenv that does not exist, so
the whole chain of stamps shows and nothing is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.helpers.server import ROOT

FRESH_VENV = ".venv-that-does-not-exist"


def dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    ran = subprocess.run(
        ["make", "-n", target, f"VENV={FRESH_VENV}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert not (ROOT / FRESH_VENV).exists()
    return ran.stdout


def test_make_serve_installs_the_runtime_dependencies_only():
    commands = dry_run("serve")
    assert "requirements-serve.txt" in commands and "maturin develop" in commands
    assert "optional-dependencies" not in commands and "requirements-extras" not in commands


def test_make_test_still_installs_everything():
    commands = dry_run("test")
    assert "requirements-serve.txt" in commands and "optional-dependencies" in commands
