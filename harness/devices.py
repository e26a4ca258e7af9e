"""The one device rule: where the models of a run, an evaluation, a teacher cache or the demo run.

Every model forward of the harness runs on the device this module names: an
accelerator when the machine has one (CUDA; the process's ``LOCAL_RANK`` picks the
GPU under ``accelerate launch`` / ``torchrun``), else the CPU. Teachers may be
placed elsewhere (a recipe's per-teacher ``device:`` or ``placement: spread``);
:func:`place_teachers` is the pure rule for that, so it is tested without GPUs.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

import torch

from harness.errors import HarnessError

PLACEMENTS = ("same", "spread")


def accelerator_devices() -> list[torch.device]:
    """The node's accelerators (CUDA devices), in index order; empty on a CPU machine."""
    if not torch.cuda.is_available():
        return []
    return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]


def default_device(local_rank: int | None = None) -> torch.device:
    """The device of this process's student (and of every model not placed elsewhere)."""
    gpus = accelerator_devices()
    if not gpus:
        return torch.device("cpu")
    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    return gpus[local_rank % len(gpus)]


def parse_device(text: str, *, field: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` as a device; a bad name or a missing GPU is a one-line error."""
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError):
        raise HarnessError(f"{field}: '{text}' is not a device (cpu, cuda, cuda:N)") from None
    if device.type not in ("cpu", "cuda", "meta"):
        raise HarnessError(f"{field}: device type '{device.type}' is not supported (cpu, cuda, cuda:N)")
    if device.type == "cuda":
        gpus = accelerator_devices()
        if not gpus:
            raise HarnessError(f"{field}: '{text}' names a GPU but this machine has none")
        index = 0 if device.index is None else device.index
        if index >= len(gpus):
            raise HarnessError(f"{field}: '{text}' but this machine has {len(gpus)} GPU(s)")
        device = gpus[index]
    return device


def place_teachers(copies: Sequence[str], *, student: torch.device, devices: Sequence[torch.device],
                   placement: str = "same", sizes: Mapping[str, float] | None = None,
                   explicit: Mapping[str, torch.device] | None = None) -> dict[str, torch.device]:
    """The device of each loaded teacher copy.

    ``copies`` names the distinct teacher copies (teachers with one source share
    one); ``explicit`` holds those a recipe pins with ``device:``. ``same`` puts
    the rest on the student's device; ``spread`` puts each on the node's device
    that the student does not use and that holds the fewest teacher bytes so far
    (``sizes``, largest copy first), falling back to the student's device on a
    one-device node.
    """
    if placement not in PLACEMENTS:
        raise HarnessError(f"placement '{placement}' is not one of {', '.join(PLACEMENTS)}")
    explicit = dict(explicit or {})
    out = {key: explicit[key] for key in copies if key in explicit}
    free = [key for key in copies if key not in explicit]
    others = [d for d in devices if d != student]
    if placement == "same" or not others:
        out.update({key: student for key in free})
        return {key: out[key] for key in copies}
    sizes = dict(sizes or {})
    load = {d: sum(sizes.get(k, 0.0) for k, dev in out.items() if dev == d) for d in others}
    for key in sorted(free, key=lambda k: (-sizes.get(k, 1.0), copies.index(k))):
        target = min(others, key=lambda d: (load[d], others.index(d)))
        out[key] = target
        load[target] += sizes.get(key, 1.0)
    return {key: out[key] for key in copies}


def model_device(model: torch.nn.Module) -> torch.device:
    """Where a model's inputs go: the device of its first parameter."""
    return next(model.parameters()).device


def describe(device: torch.device) -> str:
    """``cpu`` or ``cuda:N``: how run.json and summary.json name a device."""
    if device.type == "cuda" and device.index is None:
        return "cuda:0"
    return str(device)


def release_memory() -> None:
    """Return freed accelerator memory to the driver (after teachers are dropped)."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block on ``count`` CPU threads and restore the process's count after it.

    The thread count is process-wide and changes the order of float reductions, so a
    library call that set it and left it (the demo's one-thread workers, when called in
    the caller's own process) made every later run in that process differ bit for bit
    from the same run in a fresh process.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, count))
    try:
        yield
    finally:
        torch.set_num_threads(before)
