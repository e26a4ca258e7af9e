"""Checkpoints that a killed run resumes from bit for bit.

A checkpoint is a folder ``checkpoints/step-00000042/`` holding one ``state.pt``:
the student's trainable weights, the optimizer, the scheduler, every RNG state,
the combiner's and reweighting's state and the loop counters. It is written into
a temporary folder and renamed into place, so a SIGKILL mid-write leaves either
the previous checkpoint or the new one, never half of one. Older checkpoints
beyond ``keep`` are removed only after the new one is in place.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from harness.rundir import atomic_folder

STEP_DIR = re.compile(r"^step-(\d{8})$")


def checkpoint_dir(run_path: str | os.PathLike) -> Path:
    return Path(run_path) / "checkpoints"


def save_checkpoint(run_path: str | os.PathLike, step: int, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write ``state`` as the checkpoint of ``step`` atomically; prune to ``keep`` newest."""
    final = checkpoint_dir(run_path) / f"step-{step:08d}"
    with atomic_folder(final) as tmp, open(tmp / "state.pt", "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    for old in list_checkpoints(run_path)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_path: str | os.PathLike) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders are ignored)."""
    root = checkpoint_dir(run_path)
    if not root.exists():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and STEP_DIR.match(p.name) and (p / "state.pt").exists()]
    return sorted(found, key=lambda p: int(STEP_DIR.match(p.name).group(1)))


def latest_checkpoint(run_path: str | os.PathLike) -> Path | None:
    found = list_checkpoints(run_path)
    return found[-1] if found else None


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The state saved by :func:`save_checkpoint` (trusted: written by this harness)."""
    return torch.load(Path(path) / "state.pt", map_location="cpu", weights_only=False)


def clean_temporaries(run_path: str | os.PathLike) -> None:
    """Remove half-written checkpoint folders left by a killed process."""
    root = checkpoint_dir(run_path)
    if root.exists():
        for p in root.iterdir():
            if p.name.startswith(".step-"):
                shutil.rmtree(p, ignore_errors=True)
