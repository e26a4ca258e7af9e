"""SIGTERM handled as Ctrl-C, so a stopped process records what it was doing.

A scheduler, ``timeout`` or a sweep stopping a trial sends SIGTERM, which by
default ends the process at once: a run would stay "running" and a sweep trial
RUNNING until its heartbeat goes stale. Turned into ``KeyboardInterrupt``, the
same ``except``/``finally`` blocks that handle Ctrl-C mark the run interrupted
and the trial failed-and-retryable.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager


@contextmanager
def sigterm_as_interrupt():
    """Raise ``KeyboardInterrupt("signal 15")`` on SIGTERM inside the block (main thread only)."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests drive workers from threads)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
