"""Seeding every source of randomness a run touches, and capturing it for resume.

A run is reproducible only if python's, numpy's and torch's generators and the
combiner's own generator (the shuffle order of PCGrad and AGP) all start from the
recipe's seed, and a resumed run is bit-identical only if their states are saved
in checkpoints and restored.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

COMBINER_SEED_OFFSET = 1_000_003  # keeps the combiner's stream apart from torch's global one


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return the combiner's generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed + COMBINER_SEED_OFFSET)
    return generator


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every generator's state, for a checkpoint."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_state_as_tensors(np.random.get_state()),
        "torch": torch.get_rng_state(),
    }
    if generator is not None:
        state["combiner"] = generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(_as_python_state(state["python"]))
    np.random.set_state(_numpy_state_from_tensors(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if generator is not None and "combiner" in state:
        generator.set_state(state["combiner"])


def _numpy_state_as_tensors(state: tuple) -> tuple:
    """numpy's generator state with its key array as a tensor, so checkpoints hold
    tensors and plain data only and load with ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, gauss = state
    return (kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(gauss))


def _numpy_state_from_tensors(state: tuple) -> tuple:
    kind, keys, pos, has_gauss, gauss = state
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    return (kind, keys.astype(np.uint32), int(pos), int(has_gauss), float(gauss))


def _as_python_state(state: Any) -> tuple:
    # torch.load may hand back lists where random.setstate wants tuples
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
