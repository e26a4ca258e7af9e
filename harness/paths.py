"""Where the harness keeps what it builds: the tiny zoo, synthetic data, caches.

One root, ``$HARNESS_CACHE`` or ``~/.cache/drivekd-harness``, so that every run,
test and sweep trial on a machine shares the same built artefacts (they are
content-addressed or deterministic, so sharing is safe).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from harness.errors import HarnessError

MIN_FREE_BYTES = 64 * 2**20  # below this a run would die mid-write and lose its provenance

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The root of built artefacts (created on demand)."""
    root = Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "drivekd-harness")
    if root.exists() and not root.is_dir():
        raise HarnessError(f"{root}: the cache folder (HARNESS_CACHE) is a file, not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"{root}: cannot create the cache folder ({exc.strerror or exc})") from None
    return root


def zoo_dir() -> Path:
    """Where `harness zoo build` writes the tiny models (one HF folder per model)."""
    return cache_dir() / "zoo"


def synthetic_dir() -> Path:
    """Where the default synthetic benchmark is written."""
    return cache_dir() / "synthetic"


def results_dir() -> Path:
    """Default root for run directories, sweeps and reports (``$HARNESS_RESULTS`` or ./results)."""
    return Path(os.environ.get("HARNESS_RESULTS") or "results")


def ensure_writable(folder: str | os.PathLike, what: str) -> Path:
    """``folder`` if this process can write there with room to spare, else a one-line error.

    Checked before a run writes anything, so a results or cache path that is a
    file, read-only or full is refused up front instead of failing half-way. A
    folder that does not exist yet is judged by its nearest existing parent, and
    is not created here.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HarnessError(f"{folder}: the {what} is a file, not a folder")
    existing = folder
    while not existing.exists():
        if existing.is_symlink():
            raise HarnessError(f"{folder}: the {what} is a dangling symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise HarnessError(f"{folder}: the {what} cannot be created under the file {existing}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise HarnessError(f"{folder}: cannot write to the {what} ({exc.strerror or exc})") from None
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise HarnessError(f"{folder}: the {what} is full ({free // 2**20} MiB free, at least {MIN_FREE_BYTES // 2**20} MiB needed)")
    return folder
