"""``python -m pyqueue …`` is the ``pyqueue`` command (for an interpreter without the script
on PATH, and for the surge replays, which start the server with their own interpreter)."""

from pyqueue.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
