"""``python -m pyqueue.surge …`` is ``pyqueue bench surge …``."""

from pyqueue.surge.run import main

if __name__ == "__main__":
    raise SystemExit(main())
