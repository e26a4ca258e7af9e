"""Setting an environment variable for a whole test session (monkeypatch is per test)."""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def environ(name: str, value: str):
    """Set ``name`` to ``value`` inside the block and restore the previous state after it."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
