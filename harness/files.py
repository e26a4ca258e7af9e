"""Writing files so that a reader never sees half of one: the harness's one way to write.

Every file the harness keeps (run folders, evaluation results, caches, the zoo,
synthetic data, reports) is written through here: a whole file goes to a temporary
sibling and is renamed over the target (:func:`atomic_write_bytes` and its text and
JSON forms), a whole folder is built as a temporary sibling and renamed into place
(:func:`atomic_folder`), and a log grows by whole lines (:func:`append_jsonl`). A
killed process leaves the old file or folder, never a torn one; its temporary
``.<name>.*`` siblings are cleared by :func:`harness.integrity.remove_stale_builds`
under the entry's build lock. Locks live in :mod:`harness.locks`, content hashes
and checksums in :mod:`harness.integrity`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    The file gets the permissions an ordinary ``open`` would give (0666 less the
    umask), not mkstemp's private 0600, so collaborators can read shared results.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class StagedFolder:
    """A folder built as a temporary sibling ``.<name>.*`` of ``final`` and renamed into place.

    For builds that span calls (a store filled sample by sample); within one block,
    :func:`atomic_folder` is the same thing. Readers see either the old folder or
    the complete new one, never half of it.
    """

    def __init__(self, final: str | os.PathLike):
        self.final = Path(final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.", dir=self.final.parent))
        try:
            self.path.chmod(0o777 & ~_umask())  # as mkdir would, not mkdtemp's private 0700
        except BaseException:
            self.abort()
            raise

    def commit(self, *, replace: bool = True) -> bool:
        """Rename the build to ``final``; with ``replace=False`` an existing ``final`` is kept
        (and the build dropped). True when the build was put in place."""
        if self.final.exists():
            if not replace:
                self.abort()
                return False
            shutil.rmtree(self.final)
        os.replace(self.path, self.final)
        return True

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def atomic_folder(final: str | os.PathLike, *, replace: bool = True):
    """Yield a temporary sibling folder; on success it is renamed to ``final``.

    Readers see either the old folder or the complete new one, never half of it;
    on an error the temporary folder is removed. With ``replace=False`` an
    existing ``final`` (built meanwhile by another process) is kept and the new
    copy dropped.
    """
    staged = StagedFolder(final)
    try:
        yield staged.path
        staged.commit(replace=replace)
    except BaseException:
        staged.abort()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def append_jsonl(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one JSON line with a single write, so concurrent readers see whole lines."""
    line = json.dumps(record, sort_keys=True, default=_json_default) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete lines of a JSONL file (a torn last line from a crash is ignored)."""
    out = []
    path = Path(path)
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _json_default(obj: Any) -> Any:
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    return str(obj)
