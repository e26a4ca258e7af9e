"""A throwaway PostgreSQL server on loopback for tests: own data directory, own port.

PostgreSQL refuses to run as root, so when the tests run as root (CI here) the
server runs as the Debian package's ``postgres`` user on a data directory it owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


def pg_bin() -> Path | None:
    """The folder holding initdb/pg_ctl (Debian keeps them out of PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(os.path.realpath(found)).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def throwaway_postgres(database: str = "optuna"):
    """Start a server in a fresh temporary folder; yield its SQLAlchemy URL; stop and remove it.

    The folder is made directly under the system temp dir (pytest's tmp dirs are
    private to root, so the ``postgres`` user could not reach a data dir inside them).
    """
    bin_dir = pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL's initdb is not installed")
    root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    data, sockets = root / "pgdata", root / "pgsock"
    data.mkdir(parents=True)
    sockets.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for p in (data, sockets):
            shutil.chown(p, "postgres")
    port = _free_port()
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
                   check=True, capture_output=True)
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60",
                                    "-l", str(root / "server.log"), "start"]), check=True, capture_output=True)
    try:
        import psycopg2

        for _ in range(50):
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
                break
            except psycopg2.OperationalError:
                time.sleep(0.2)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {database}")
        conn.close()
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
