"""Fault injection for tests/faults: damaged files, planted pickles, hostile servers, tiny disks.

Each helper does to a real artifact, process or socket what a hostile environment
would (flip a byte, plant code, trickle a reply, fill a disk), so the tests assert
the harness's real reaction; nothing here stands in for a part of the harness.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Overwrite one byte in the middle of ``path`` (its size is unchanged)."""
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


class _Payload:
    """Unpickling this runs ``touch MARKER``: what a planted checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant_malicious_pickle(folder: Path, marker: Path) -> Path:
    """A checkpoint folder whose state.pt runs code when unpickled, with matching checksums
    (an attacker who can write the folder can write those too)."""
    from harness.integrity import write_checksums

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "state.pt", "wb") as handle:
        pickle.dump({"step": 99999999, "model": _Payload(marker)}, handle, protocol=2)  # torch.save's protocol
    write_checksums(folder)
    return folder


# -- hostile judge servers (loopback, every one bounded in time) ------------------------

class RawServer:
    """A loopback TCP server that answers each connection with ``reply(conn)`` in a thread.

    ``connections`` counts accepted connections; ``sent`` the bytes the reply got out
    before the client hung up. Each connection's handler stops by itself within ``limit_s``.
    """

    def __init__(self, reply, limit_s: float = 20.0):
        self.reply = reply
        self.limit_s = limit_s
        self.connections = 0
        self.sent = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        with contextlib.suppress(OSError), conn:
            _read_request(conn)
            self.reply(self, conn)

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def trickle(every_s: float = 0.05, total: int = 2000):
    """Headers at once, then the body one byte every ``every_s`` (2000 bytes: 100 s if nobody stops it)."""

    def reply(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n\r\n".encode())
        started = time.monotonic()
        for _ in range(total):
            if time.monotonic() - started > server.limit_s:
                return
            server.send(conn, b" ")
            time.sleep(every_s)

    return reply


def incomplete_read(server: RawServer, conn: socket.socket) -> None:
    """Promises 400 bytes, sends 10, hangs up: http.client's IncompleteRead."""
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n{\"choices\"")


def bad_status_line(server: RawServer, conn: socket.socket) -> None:
    """Not HTTP at all: http.client's BadStatusLine."""
    server.send(conn, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def huge_declared(server: RawServer, conn: socket.socket) -> None:
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 40000000\r\n\r\n" + b" " * 1024)


def huge_streamed(server: RawServer, conn: socket.socket) -> None:
    """No Content-Length: 2 MB of body until the connection closes."""
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    for _ in range(32):
        server.send(conn, b" " * 65536)


def closed_port() -> str:
    """The base URL of a port nothing listens on (a judge that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# -- disks that are read-only or full --------------------------------------------------

@contextlib.contextmanager
def tiny_disk(path: Path, *, read_only: bool = False, fill: bool = False):
    """A 4 MiB tmpfs at ``path``, optionally read-only or filled; skips where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        if fill:
            with open(path / "filler", "wb") as handle, contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * 65536)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
