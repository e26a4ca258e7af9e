"""DDP: two gloo ranks on CPU end with identical parameters that match one process on the union.

The workers run under ``accelerate launch --multi_gpu --num_processes 2``: without a GPU,
accelerate starts the two processes through torchrun and its Accelerator (``cpu=True``)
sets up a MULTI_CPU gloo group (``--cpu`` with several processes would need mpirun, which
this machine lacks). The Accelerator wraps the model in DDP inside each worker and
supplies ``no_sync``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.combine import aggregate
from harness.combine.gradients import trainable_parameters
from tests.combine import ddp_worker as worker

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-5


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           str(ROOT / "tests" / "combine" / "ddp_worker.py"), str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def max_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize("config", list(worker.CONFIGS))
def test_ranks_agree_and_match_a_single_process_on_the_union(two_rank_results, config):
    rank0 = torch.load(two_rank_results / f"{config}-rank0.pt")
    rank1 = torch.load(two_rank_results / f"{config}-rank1.pt")
    assert max_diff(rank0, rank1) <= TOL, "ranks diverged"
    single = worker.train(config, worker.make_model()).state_dict()
    assert max_diff(rank0, single) <= TOL, f"{config}: 2 ranks differ from 1 process on the union"
    assert max_diff(single, worker.make_model().state_dict()) > 1e-3, "training must move the parameters"


def combine_per_rank_then_average() -> dict:
    """The WRONG design (combine each rank's gradients, then average): the test must tell it apart."""
    model = worker.make_model()
    params = trainable_parameters(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
    generators = [torch.Generator().manual_seed(42) for _ in range(2)]
    for micro_batches in worker.data():
        for x, y in micro_batches:
            combined = []
            for rank in range(2):
                losses = worker.losses_of(model, x[rank::2], y[rank::2])
                rows = []
                for name in worker.NAMES:
                    grads = torch.autograd.grad(losses[name], params, retain_graph=True)
                    rows.append(torch.cat([g.reshape(-1) for g in grads]))
                combined.append(aggregate(torch.stack(rows), worker.NAMES, "agp", generator=generators[rank]))
            flat = (combined[0] + combined[1]) / 2
            offset = 0
            for p in params:
                g = flat[offset : offset + p.numel()].view_as(p)
                p.grad = g.clone() if p.grad is None else p.grad + g
                offset += p.numel()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return model.state_dict()


@pytest.mark.slow
def test_the_comparison_can_tell_a_wrong_reduction_apart(two_rank_results):
    rank0 = torch.load(two_rank_results / "agp-micro_batch-rank0.pt")
    assert max_diff(rank0, combine_per_rank_then_average()) > 100 * TOL
