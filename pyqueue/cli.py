"""The ``pyqueue`` command.

``pyqueue serve --config FILE [--host H] [--port P]`` runs the server (without ``--config``,
the demo room); ``pyqueue check-config FILE`` validates a configuration; ``pyqueue openapi``
writes the OpenAPI document; ``pyqueue nginx-config --room ID`` prints an nginx configuration
that guards a booking site with the sidecar check, ``pyqueue caddy-config --room ID`` the same
for Caddy; ``pyqueue journal check DIR`` and
``pyqueue journal repair DIR`` examine and repair saved state (see
:mod:`pyqueue.journal_command`). ``python server.py …`` is ``pyqueue serve …``.

``serve`` exits with 2 for a configuration mistake, 3 for saved state it cannot use (another
format version), 4 for a damaged journal or snapshot (see ``pyqueue journal check``), 1 when
it cannot listen.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson

from pyqueue._core import InvalidArgument, VirtualClock
from pyqueue.config import ConfigError, Settings, describe_settings, load_settings

#: Exit statuses of ``serve`` for saved state it refuses (see the README).
EXIT_SAVED_STATE_UNUSABLE: Final = 3
EXIT_SAVED_STATE_DAMAGED: Final = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyqueue", description="A fair admission queue (virtual waiting room)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server")
    add_serve_arguments(serve)

    check = commands.add_parser("check-config", help="validate a configuration file")
    check.add_argument("config", type=Path, help="the TOML file")

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")

    nginx = commands.add_parser(
        "nginx-config", help="print an nginx configuration guarding a booking site"
    )
    nginx.add_argument("--room", required=True, help="the room whose pass opens the site")
    nginx.add_argument("--pyqueue", default="127.0.0.1:8080", help="pyqueue's host:port")
    nginx.add_argument("--booking", default="127.0.0.1:9000", help="the booking site's host:port")
    nginx.add_argument("--listen", default="80", help="what nginx listens on")
    nginx.add_argument("--server-name", default="_", help="nginx server_name")
    nginx.add_argument(
        "--on-unavailable",
        choices=("closed", "open"),
        default="closed",
        help="when pyqueue cannot answer: closed shows a 'please retry' page (503, Retry-After);"
        " open lets visitors through to the booking site (default: closed)",
    )

    caddy = commands.add_parser(
        "caddy-config", help="print a Caddyfile site block guarding a booking site"
    )
    caddy.add_argument("--room", required=True, help="the room whose pass opens the site")
    caddy.add_argument("--pyqueue", default="127.0.0.1:8080", help="pyqueue's host:port")
    caddy.add_argument("--booking", default="127.0.0.1:9000", help="the booking site's host:port")
    caddy.add_argument(
        "--site",
        default=":80",
        help="the Caddy site address: :80, booking.example.org (automatic HTTPS), or"
        " http://host:port (default: :80)",
    )

    journal = commands.add_parser(
        "journal", help="check or repair the saved state of the rooms (memory backend)"
    )
    actions = journal.add_subparsers(dest="journal", required=True, metavar="ACTION")
    for action, text in (
        ("check", "show per room whether its files are whole, and what a repair would drop"),
        ("repair", "drop what follows damage, after showing it; damaged files are kept aside"),
    ):
        sub = actions.add_parser(action, help=text, description=text)
        sub.add_argument("dir", type=Path, help="the data_dir, or one room's directory in it")
        if action == "repair":
            sub.add_argument(
                "--yes", action="store_true", help="confirm without asking (non-interactive)"
            )

    bench = commands.add_parser("bench", help="load a server with a replay of the field reports")
    kinds = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    surge = kinds.add_parser(
        "surge",
        help="replay the field reports against the real server",
        description="pyqueue bench surge [SCENARIO ...] [--backend memory|redis|both] "
        "[--scale X]; 'pyqueue bench surge --help' lists its options",
        add_help=False,
    )
    # pyqueue.surge parses its own options; it is imported only when asked for.
    surge.add_argument("options", nargs=argparse.REMAINDER)
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file (default: the demo room)")
    parser.add_argument("--host", help="address to listen on (overrides the file)")
    parser.add_argument("--port", type=int, help="port to listen on; 0 picks a free one")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="default: info"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N server processes sharing the port (SO_REUSEPORT); needs the Redis backend",
    )
    # Set by --workers for its processes: listen with SO_REUSEPORT.
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    testing = parser.add_argument_group("testing only")
    testing.add_argument(
        "--virtual-clock",
        metavar="START",
        help="run the rooms on a virtual clock starting at START (RFC 3339, or 'now'); "
        "enables POST /v1/admin/clock. Never in production.",
    )
    testing.add_argument(
        "--virtual-clock-speed",
        type=float,
        default=1.0,
        metavar="X",
        help="virtual seconds per real second (0: the clock moves only when told)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:2] == ["bench", "surge"]:
        # Everything after "bench surge" belongs to the replays' own parser, as given: parsed
        # here, options before the scenario names (`--backend both`) would be moved behind them
        # and lose their values.
        return _bench_surge(arguments[2:])
    args = parser.parse_args(arguments)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "check-config":
            settings = load_settings(args.config)
            print(orjson.dumps(describe_settings(settings), option=orjson.OPT_INDENT_2).decode())
            return 0
        if args.command == "nginx-config":
            return _nginx_config(args)
        if args.command == "caddy-config":
            return _caddy_config(args)
        if args.command == "journal":
            from pyqueue import journal_command

            if args.journal == "check":
                return journal_command.check(args.dir)
            return journal_command.repair_command(args.dir, args.yes)
        return _openapi(args.output)
    except ConfigError as exc:
        print(f"pyqueue: {exc}", file=sys.stderr)
        return 2


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``python server.py …``: the serve command without its name."""
    parser = argparse.ArgumentParser(prog="server.py", description="Runs the pyqueue server.")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return _serve(args)
    except ConfigError as exc:
        print(f"pyqueue: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    from pyqueue.backends.durable import SavedStateDamaged, SavedStateError
    from pyqueue.demo import demo_settings
    from pyqueue.server import run
    from pyqueue.server.logs import configure_logging

    clock = _virtual_clock(args.virtual_clock)
    if args.virtual_clock_speed < 0:
        raise ConfigError("--virtual-clock-speed must be >= 0")
    announce = None
    if args.config is None:
        now = clock.now() if clock else datetime.now(UTC)
        settings = demo_settings(now, host=args.host, port=args.port)
        announce = {
            "demo": True,
            "admin_token": settings.server.admin_token,
            "service_token": settings.server.service_token,
        }
    else:
        settings = load_settings(args.config, host=args.host, port=args.port)
    settings = _with_cli_logging(settings, args)
    configure_logging(settings.server.log_level)
    if args.workers != 1:
        return _serve_workers(args, settings)
    try:
        run(
            settings,
            clock=clock,
            clock_speed=args.virtual_clock_speed if clock else 0.0,
            announce=announce,
            reuse_port=args.reuse_port,
        )
    except SavedStateDamaged as exc:
        # Damage with whole records after it: cutting it would take back what was answered.
        print(f"pyqueue: cannot start: {exc}", file=sys.stderr)
        return EXIT_SAVED_STATE_DAMAGED
    except SavedStateError as exc:
        # The saved state of the rooms cannot be used as it is: serving without it would send
        # everybody back to the start, or book slots twice.
        print(f"pyqueue: cannot start: {exc}", file=sys.stderr)
        return EXIT_SAVED_STATE_UNUSABLE
    except OSError as exc:
        print(f"pyqueue: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


def _serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """Runs ``--workers N`` processes of this command on one port and waits for them.

    Each is a full server with its own event loop; they share the state through Redis, so the
    memory backend (state in one process) is refused. SIGTERM and SIGINT are passed on.
    """
    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if settings.server.backend == "memory":
        raise ConfigError("--workers needs a shared backend: set server.backend to a redis:// URL")
    if args.virtual_clock is not None:
        raise ConfigError("--workers cannot run on a virtual clock (one per process)")
    port = settings.server.port
    if port == 0:
        # One free port for all: picked here, then bound by every worker with SO_REUSEPORT.
        with socket.socket() as probe:
            probe.bind((settings.server.host, 0))
            port = int(probe.getsockname()[1])
    argv = sys.argv[1:]
    if "--workers" in argv:
        index = argv.index("--workers")
        del argv[index : index + 2]
    argv = [a for a in argv if not a.startswith("--workers=")]
    command = [sys.executable, sys.argv[0], *argv, "--port", str(port), "--reuse-port"]
    children = [subprocess.Popen(command) for _ in range(args.workers)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    return max(child.wait() for child in children)


def _with_cli_logging(settings: Settings, args: argparse.Namespace) -> Settings:
    server = settings.server
    if args.log_level:
        server = replace(server, log_level=args.log_level)
    if args.access_log:
        server = replace(server, access_log=True)
    return replace(settings, server=server)


def _virtual_clock(start: str | None) -> VirtualClock | None:
    if start is None:
        return None
    try:
        return VirtualClock(datetime.now(UTC) if start == "now" else start)
    except InvalidArgument as exc:
        raise ConfigError(f"--virtual-clock: {exc}") from exc


def _nginx_config(args: argparse.Namespace) -> int:
    from pyqueue.server.nginx import nginx_sidecar_config

    try:
        text = nginx_sidecar_config(
            args.room,
            pyqueue=args.pyqueue,
            booking=args.booking,
            listen=args.listen,
            server_name=args.server_name,
            on_unavailable=args.on_unavailable,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    sys.stdout.write(text)
    return 0


def _caddy_config(args: argparse.Namespace) -> int:
    from pyqueue.server.caddy import caddy_sidecar_config

    try:
        text = caddy_sidecar_config(
            args.room, pyqueue=args.pyqueue, booking=args.booking, site=args.site
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    sys.stdout.write(text)
    return 0


def _bench_surge(options: list[str]) -> int:
    # Imported only when asked for: `serve` need not load the load driver.
    from pyqueue.surge.run import main as surge_main

    return surge_main(options)


def _openapi(output: Path | None) -> int:
    from pyqueue.server.openapi import openapi_document

    text = orjson.dumps(openapi_document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if output is None:
        sys.stdout.write(text.decode() + "\n")
    else:
        output.write_bytes(text + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
