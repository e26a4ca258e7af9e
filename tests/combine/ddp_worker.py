"""Worker for the DDP test: the same training with the combined-gradient engine,
either on 2 ranks (each gets half of every micro-batch) or in one process on the
union of the batches.

Launched as ``accelerate launch --cpu --num_processes 2 tests/combine/ddp_worker.py OUT``;
each rank saves its final parameters per configuration to ``OUT/<config>-rank<r>.pt``.
The test imports :func:`train` to run the single-process reference itself.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext

import torch
from torch import nn

from harness.combine import build_combiner
from harness.combine.gradients import CombinedBackward

NAMES = ["ce", "perception", "planning"]
CONFIGS = {
    "agp-micro_batch": ("agp", "micro_batch"),
    "pcgrad-step": ("pcgrad", "step"),
    "gradvac-micro_batch": ("gradvac", "micro_batch"),
    "sum-micro_batch": ("sum", "micro_batch"),
}
STEPS, MICRO_BATCHES, GLOBAL_BATCH = 4, 2, 8


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def data() -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    gen = torch.Generator().manual_seed(123)
    return [
        [(torch.randn(GLOBAL_BATCH, 6, generator=gen), torch.randn(GLOBAL_BATCH, generator=gen)) for _ in range(MICRO_BATCHES)]
        for _ in range(STEPS)
    ]


def losses_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Three objectives that conflict (ce and perception pull output 0 opposite ways)."""
    h = model(x)
    return {
        "ce": ((h[:, 0] - y) ** 2).mean(),
        "perception": 0.5 * ((h[:, 0] + y) ** 2).mean() + h[:, 1].pow(2).mean(),
        "planning": (h[:, 2] - h[:, 1]).pow(2).mean() - 0.3 * h[:, 2].mean(),
    }


def train(config: str, model: nn.Module, rank: int = 0, world: int = 1, no_sync=None) -> nn.Module:
    """A few optimizer steps with gradient accumulation; ranks take interleaved rows."""
    name, combine_per = CONFIGS[config]
    engine = CombinedBackward(model, build_combiner(name), generator=torch.Generator().manual_seed(42), combine_per=combine_per)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
    for micro_batches in data():
        for x, y in micro_batches:
            with (no_sync() if no_sync else nullcontext()):
                engine.backward(losses_of(model, x[rank::world], y[rank::world]))
        engine.finish()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return model


def main(out_dir: str) -> None:
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    rank, world = accelerator.process_index, accelerator.num_processes
    assert world == 2, f"expected 2 processes, got {world}"
    for config in CONFIGS:
        model = accelerator.prepare_model(make_model())  # DistributedDataParallel
        assert isinstance(model, nn.parallel.DistributedDataParallel)
        train(config, model, rank, world, no_sync=lambda: accelerator.no_sync(model))
        state = {k: v.detach().clone() for k, v in accelerator.unwrap_model(model).state_dict().items()}
        torch.save(state, f"{out_dir}/{config}-rank{rank}.pt")
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1])
