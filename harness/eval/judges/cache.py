"""SQLite verdict cache of the LLM judge, keyed by judge identity and prompt hash.

Re-scoring the same predictions (a report rerun, a resumed sweep) costs no
requests. Only real verdicts are stored; a missing one is asked again next time.
One connection is shared by the judge's worker threads behind a lock. The cache
only saves requests: a cache that cannot be read or written (locked, full disk) is
logged and skipped, never the end of an evaluation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from pathlib import Path

from harness.errors import HarnessError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    judge_id TEXT NOT NULL,
    total REAL NOT NULL,
    criteria TEXT NOT NULL,
    reply TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


def verdict_key(judge_id: str, prompt: str) -> str:
    return hashlib.sha256(f"{judge_id}\n{prompt}".encode("utf-8")).hexdigest()


class VerdictCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            with self._lock, self._db:
                self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HarnessError(f"{self.path}: cannot open the judge's verdict cache ({exc}); "
                               "pass use_cache=false or another cache path") from None

    def get(self, key: str) -> tuple[float, dict[str, float]] | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT total, criteria FROM verdicts WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            log.warning("verdict cache %s unreadable (%s); asking the judge", self.path, exc)
            return None
        if row is None:
            return None
        return float(row[0]), json.loads(row[1])

    def put(self, key: str, judge_id: str, total: float, criteria: dict[str, float], reply: str) -> None:
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO verdicts (key, judge_id, total, criteria, reply) VALUES (?, ?, ?, ?, ?)",
                    (key, judge_id, total, json.dumps(criteria, sort_keys=True), reply[:200_000]),
                )
        except sqlite3.Error as exc:
            log.warning("verdict cache %s not written (%s); the verdict is kept in the scores", self.path, exc)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
