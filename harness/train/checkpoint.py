"""Checkpoints that a killed run resumes from bit for bit, and that cannot run code.

A checkpoint is a folder ``checkpoints/step-00000042/`` holding one ``state.pt``
(the student's trainable weights, the optimizer, the scheduler, every RNG state,
the combiner's and reweighting's state and the loop counters) and
``checksums.json`` (:mod:`harness.integrity`). It is written into a temporary
folder and renamed into place, so a SIGKILL mid-write leaves either the previous
checkpoint or the new one, never half of one; older checkpoints beyond ``keep``
are removed only after the new one is in place.

Why ``weights_only=True``: a results folder may be shared, and a pickle planted
as a checkpoint would otherwise run its code on ``--resume``. The state holds
tensors and plain data only (numpy's RNG key is stored as a tensor), so the
restricted unpickler reads all of it; anything else is refused. A checkpoint whose
checksum fails (a truncated or overwritten file) is skipped for the previous good
one, with a warning naming it.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from harness.errors import HarnessError
from harness.files import atomic_folder
from harness.integrity import CorruptArtifact, verify_checksums, write_checksums
from harness.rundir import RunDir

log = logging.getLogger(__name__)

STEP_DIR = re.compile(r"^step-(\d{8})$")
STATE = "state.pt"


class UnsafeCheckpoint(HarnessError):
    """A checkpoint that holds more than tensors and plain data (it could run code)."""


def checkpoint_dir(run_path: str | os.PathLike) -> Path:
    return RunDir(Path(run_path)).checkpoints_dir


def save_checkpoint(run_path: str | os.PathLike, step: int, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write ``state`` as the checkpoint of ``step`` atomically; prune to ``keep`` newest."""
    final = checkpoint_dir(run_path) / f"step-{step:08d}"
    with atomic_folder(final) as tmp:
        with open(tmp / STATE, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        write_checksums(tmp)
    for old in list_checkpoints(run_path)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_path: str | os.PathLike) -> list[Path]:
    """Checkpoint folders that hold a state file, oldest first (temporary folders are ignored)."""
    root = checkpoint_dir(run_path)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and STEP_DIR.match(p.name) and (p / STATE).exists()]
    return sorted(found, key=lambda p: int(STEP_DIR.match(p.name).group(1)))


def latest_checkpoint(run_path: str | os.PathLike) -> Path | None:
    found = list_checkpoints(run_path)
    return found[-1] if found else None


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The state saved by :func:`save_checkpoint`, after its checksum is checked.

    Raises :class:`~harness.integrity.CorruptArtifact` when the files do not match
    their checksums and :class:`UnsafeCheckpoint` when the pickle holds anything
    but tensors and plain data (it is never executed).
    """
    path = Path(path)
    verify_checksums(path, what="checkpoint")
    try:
        return torch.load(path / STATE, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeCheckpoint(
            f"{path / STATE}: refused: it holds more than tensors and plain data, so loading it could run code ({first[:160]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CorruptArtifact(f"{path / STATE}: unreadable checkpoint ({type(exc).__name__})") from None


def resume_point(run_path: str | os.PathLike) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that passes its checksum, and its state (None when there is none).

    A corrupt or incomplete newer one is removed with a warning naming it (so that
    pruning never keeps it over a good one); an unsafe one (a pickle that passes
    its checksum yet holds code) stops the resume with :class:`UnsafeCheckpoint`.
    """
    for path in reversed(list_checkpoints(run_path)):
        try:
            return path, load_checkpoint(path)
        except CorruptArtifact as exc:
            log.warning("%s; resuming from the previous checkpoint instead", exc)
            shutil.rmtree(path, ignore_errors=True)
    return None


def clean_temporaries(run_path: str | os.PathLike) -> None:
    """Remove half-written checkpoint folders left by a killed process."""
    root = checkpoint_dir(run_path)
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".step-"):
                shutil.rmtree(p, ignore_errors=True)
