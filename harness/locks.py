"""Locks that keep two processes from writing the same thing at once: the harness's only locks.

``BuildLock`` guards the build of a shared cache entry (teacher targets, a
fine-tuned model, a synthetic benchmark): the second process waits, then finds
the entry built. ``RunLock`` guards a run folder for the whole life of the run:
a second ``harness run`` or ``--resume`` of the same folder is refused at once
with an error naming the holder, instead of two writers interleaving one folder.
:func:`waiting_lock` is the blocking kind, for a zoo model's build and a sweep
trial's claim on its run folder: the second holder waits its turn. ``RunLock`` and
:func:`waiting_lock` are ``flock`` on a file, so the kernel releases them when the
holder dies, however it dies (SIGKILL included), and no stale lock remains.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from harness.errors import HarnessError


class BuildLock:
    """An exclusive lock file next to the store; stale locks (dead owner) are taken over."""

    def __init__(self, path: Path, poll: float = 0.5):
        self.path = Path(str(path) + ".lock")
        self.poll = poll

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                return self
            except FileExistsError:
                if self._stale():
                    self.path.unlink(missing_ok=True)
                    continue
                time.sleep(self.poll)

    def _stale(self) -> bool:
        try:
            pid = int(self.path.read_text() or "0")
        except (OSError, ValueError):
            return False
        if pid <= 0:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


@contextmanager
def waiting_lock(path: str | os.PathLike):
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block, waiting for its holder.

    flock is reliable on local filesystems; on NFS it depends on the server.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class RunBusy(HarnessError):
    """The run folder is held by another living process."""


class RunLock:
    """An exclusive, non-blocking lock on one run folder, held until :meth:`release`.

    ``lock_file`` exists apart from the folder (so it can be taken before the folder
    exists; :func:`harness.rundir.run_lock` puts it under the results root's ``.locks/``)
    and records the holder: pid, host, start time and command line.
    """

    def __init__(self, folder: str | os.PathLike, lock_file: str | os.PathLike):
        self.folder = Path(folder)
        self.path = Path(lock_file)
        self._handle = None

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
            handle.close()
            raise RunBusy(f"{self.folder}: the run folder is in use by {holder}; wait for it to end or stop it") from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv)[:300],
        }))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            finally:
                self._handle.close()
                self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __getstate__(self):  # handed to other ranks as "not held here"
        return {"folder": self.folder, "path": self.path, "_handle": None}


def _describe(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']} since {info['since']} ({info.get('command', '')})"
    except (ValueError, KeyError, TypeError):
        return "another process"
