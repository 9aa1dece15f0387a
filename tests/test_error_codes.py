"""Every error code has exactly one HTTP status, from one list: the core's codes with their
statuses, the server's own codes, the OpenAPI document, the README's tables and the Redis
scripts' error replies all agree with it."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request
from redis.exceptions import ResponseError

import pyqueue
from pyqueue import _core
from pyqueue.backends import BackendUnavailable, UnknownRoom
from pyqueue.backends.redis_backend import scripts
from pyqueue.server.errors import (
    SERVER_STATUS_BY_CODE,
    STATUS_BY_CODE,
    ApiError,
    merged_status_table,
    response_for_exception,
)
from pyqueue.server.openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
LUA_DIR = ROOT / "pyqueue" / "backends" / "redis_backend" / "lua"

#: Faults of the server or its storage: no change to the request would help.
SERVER_FAULTS = {
    "entropy_unavailable",
    "journal_incompatible",
    "journal_corrupt",
    "entry_store_full",
    "unavailable",
    "too_many_connections",
    "internal",
}
#: The bases of groups of exceptions, which no error is raised as.
GROUP_BASES = {"PyqueueError", "TokenError", "EntryError", "ChallengeError"}


#: Script replies of the codes that carry details.
REPLIES = {
    "not_open_yet": "not_open_yet 1620622800000000 1620620800000000",
    "slot_taken": "slot_taken a1 a2,a3",
    "duplicate_slot": "duplicate_slot a1",
    "limit_reached": "limit_reached 2",
}


def core_error(code: str) -> pyqueue.PyqueueError:
    """The exception of a code with its details, as the Redis backend raises it."""
    error = scripts.translate(ResponseError(REPLIES.get(code, code)))
    assert isinstance(error, pyqueue.PyqueueError), code
    if isinstance(error, pyqueue.ReleaseRefused):
        error.next_window = None  # the backend adds it after asking its schedule
    return error


def answer(error: Exception) -> tuple[int, str]:
    request = make_mocked_request("POST", "/v1/rooms/kiel/join")
    response = response_for_exception(error, request, defaultdict(int))
    assert isinstance(response.body, bytes)
    return response.status, orjson.loads(response.body)["error"]["code"]


def test_every_core_code_has_one_status_and_the_server_adds_none_of_them():
    core = pyqueue.error_codes()
    assert core, "the core lists no codes"
    assert not set(core) & set(SERVER_STATUS_BY_CODE)
    for code, status in core.items():
        assert STATUS_BY_CODE[code] == status, code
    assert set(STATUS_BY_CODE) == set(core) | set(SERVER_STATUS_BY_CODE)


def test_a_code_in_both_tables_is_refused():
    with pytest.raises(RuntimeError, match="room_closed"):
        merged_status_table({"room_closed": 410}, {"room_closed": 400})


def test_every_core_exception_class_has_a_code_and_every_code_a_class():
    classes = {
        name
        for name, value in vars(_core).items()
        if isinstance(value, type) and issubclass(value, pyqueue.PyqueueError)
    }
    named = {code.title().replace("_", "") for code in pyqueue.error_codes()}
    assert classes - GROUP_BASES == named


def test_server_faults_are_5xx_and_client_mistakes_4xx():
    for code, status in STATUS_BY_CODE.items():
        if code in SERVER_FAULTS:
            assert 500 <= status < 600, code
        else:
            assert 400 <= status < 500, code


@pytest.mark.parametrize("code", sorted(pyqueue.error_codes()))
def test_every_core_error_is_answered_with_its_status(code):
    assert answer(core_error(code)) == (pyqueue.error_codes()[code], code)


def test_saved_state_it_cannot_read_or_no_randomness_is_a_500_and_logged(caplog):
    # These three were answered 400, as if the client had sent something wrong.
    for code in ("journal_corrupt", "journal_incompatible", "entropy_unavailable"):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="pyqueue.server"):
            assert answer(core_error(code)) == (500, code)
        assert [r.code for r in caplog.records] == [code]


def test_an_unknown_code_is_a_500_logged_and_answered_as_internal(caplog):
    error = pyqueue.PyqueueError("something new")
    error.code = "made_up_code"
    with caplog.at_level(logging.ERROR, logger="pyqueue.server"):
        assert answer(error) == (500, "internal")
        assert answer(ApiError("another_made_up_code", "x")) == (500, "internal")
    logged = [getattr(r, "code", None) for r in caplog.records]
    assert logged == ["made_up_code", "another_made_up_code"]


def test_the_backends_own_errors_keep_their_status():
    assert answer(UnknownRoom("no such room")) == (404, "unknown_room")
    assert answer(BackendUnavailable("down")) == (503, "unavailable")


def test_every_code_is_in_the_openapi_document_with_its_status():
    document = openapi_document()
    code = document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert set(code["enum"]) == set(STATUS_BY_CODE)
    listing = code["description"].split(". ", 1)[1].rstrip(".")
    by_status = dict(part.split(": ", 1) for part in listing.split("; "))
    for name, status in STATUS_BY_CODE.items():
        assert name in by_status[str(status)].split(", "), name


def readme_table(header: str) -> list[list[str]]:
    """The rows of the README table under ``header`` (its first line), cells stripped."""
    start = README.index(header)
    rows = []
    for line in README[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def without_notes(text: str) -> str:
    """The text without its parenthesised notes (nested ones too)."""
    while True:
        shorter = re.sub(r"\([^()]*\)", "", text)
        if shorter == text:
            return text
        text = shorter


def test_the_readme_errors_table_lists_every_code_with_its_status():
    listed: dict[str, int] = {}
    for status, codes in readme_table("| status | codes |"):
        for code in re.findall(r"`([a-z_]+)`", without_notes(codes)):
            assert code not in listed, f"{code} is listed twice"
            listed[code] = int(status)
    assert listed == dict(STATUS_BY_CODE)


def test_the_readme_challenge_table_agrees():
    rows = readme_table("| code | status | meaning |")
    assert rows
    for code, status, _ in rows:
        assert STATUS_BY_CODE[code.strip("`")] == int(status), code


@pytest.mark.parametrize("code", sorted(pyqueue.error_codes()))
def test_a_script_reply_of_any_core_code_becomes_its_exception(code):
    error = core_error(code)
    assert type(error).__name__ == code.title().replace("_", "")
    assert error.code == code
    assert str(error) and not str(error)[0].isupper()


def test_a_script_reply_of_no_known_code_stays_a_redis_error():
    reply = ResponseError("no_such_code at all")
    assert scripts.translate(reply) is reply
    assert isinstance(scripts.translate(ResponseError("unknown_room")), UnknownRoom)


def test_every_code_a_script_replies_is_translated():
    codes = set()
    for path in LUA_DIR.glob("*.lua"):
        codes |= set(re.findall(r"error_reply\('([a-z_]+)", path.read_text(encoding="utf-8")))
    assert codes
    # needs_draw and code_clash are the backend's own signals, handled where they are raised.
    own = {"needs_draw", "code_clash", "unknown_room"}
    assert codes - own <= set(pyqueue.error_codes()), codes - own - set(pyqueue.error_codes())
