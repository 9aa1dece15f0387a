"""Runs the pyqueue server: ``python server.py --config FILE`` is ``pyqueue serve --config FILE``.

Without ``--config`` it serves the demo room (what ``make serve`` starts).
"""

from pyqueue.cli import serve_main

if __name__ == "__main__":
    raise SystemExit(serve_main())
