"""Where the harness keeps what it builds: the tiny zoo, synthetic data, caches.

One root, ``$HARNESS_CACHE`` or ``~/.cache/drivekd-harness``, so that every run,
test and sweep trial on a machine shares the same built artefacts (they are
content-addressed or deterministic, so sharing is safe).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The root of built artefacts (created on demand)."""
    root = Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "drivekd-harness")
    root.mkdir(parents=True, exist_ok=True)
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
