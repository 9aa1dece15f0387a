"""Stopping a child process (a server, Redis, a proxy) for the replays, the benchmarks and the
tests: asked to stop first, so that it exits as it would in production, and killed only if it
does not within the timeout, so that no run leaves a process behind."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def stop_process(
    process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30.0
) -> None:
    """Sends ``sig`` to a running ``process`` and waits for it, killing it after ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
