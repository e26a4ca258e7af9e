"""The distillation loop: micro-batches → objectives → combined gradient → AdamW step.

One optimizer step = ``grad_accum`` micro-batches of ``batch_size`` samples (per
process). Each micro-batch's objectives go to the per-objective gradient engine
(:class:`harness.combine.gradients.CombinedBackward`), which writes the combined
gradient into ``.grad``; then clipping, the optimizer and the schedule step.

Determinism and resume: the sample order of epoch ``e`` is a permutation seeded by
``(seed, e)``, so the loop can jump to any step; checkpoints hold the weights, the
optimizer, the schedule, every RNG state and the engine's (combiner's) state, so a
resumed run reaches the same weights as one never interrupted.

Distributed (``accelerate launch``): the student is not wrapped in DDP; each rank
takes every ``world``-th micro-batch and the engine averages per-objective
gradients across ranks before the Gramian, so all ranks apply the same update.

Failures are never silent (:mod:`harness.train.failures`): an out-of-memory error or
a non-finite objective stops the run naming the samples, their sequence length and
the step, or (``on_oom: skip`` / ``nan_policy: skip``) skips that micro-batch alone,
logged and counted, up to ``max_skipped``. With ``accum_reduction: mean`` each
micro-batch's losses are multiplied by 1/grad_accum before backward, as Drive-KD's
released trainer does (it matters for clipping and for reweighting's norms).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from tqdm.auto import tqdm

from harness.combine.gradients import CombinedBackward
from harness.combine.row_sparse import embedding_tables
from harness.data.collate import Batch
from harness.data.encodings import EncodingMemo
from harness.data.types import TrainSample
from harness.errors import HarnessError
from harness.files import atomic_write_text
from harness.train.batches import MicroBatchStream
from harness.train.checkpoint import clean_temporaries, resume_point, save_checkpoint
from harness.train.failures import FailurePolicy, free_accelerator_memory, is_out_of_memory, where
from harness.train.recompute import enable_gradient_checkpointing
from harness.train.schedule import make_scheduler
from harness.train.seeding import rng_state, set_rng_state
from harness.train.telemetry import StepWindow, measures_norms, objective_gradient_norms


@dataclass
class TrainResult:
    steps: int
    skipped_steps: int
    seconds: float
    last_losses: dict[str, float] = field(default_factory=dict)
    resumed_from: int | None = None
    skipped_micro_batches: dict[str, int] = field(default_factory=dict)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The sample order of one epoch (a seeded permutation)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


class Trainer:
    """Trains ``student`` on ``samples`` with the objectives and combiner of a recipe."""

    def __init__(
        self,
        *,
        student,
        objectives,
        targets,
        samples: Sequence[TrainSample],
        train_spec,
        combiner,
        generator: torch.Generator,
        seed: int,
        run=None,
        progress: bool = True,
        rank: int = 0,
        world: int = 1,
        log: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.student = student
        self.objectives = objectives
        self.targets = targets
        self.samples = list(samples)
        self.spec = train_spec
        self.seed = seed
        self.run = run
        self.progress = progress and rank == 0
        self.rank, self.world = rank, world
        self.log = log or (run.log if run is not None and rank == 0 else None)
        self.generator = generator
        self.encodings = EncodingMemo()  # the student's collated samples, reused by every later epoch
        self.params = [p for p in student.model.parameters() if p.requires_grad] + objectives.extra_parameters()
        if train_spec.gradient_checkpointing:
            enable_gradient_checkpointing(student.model)
        self.engine = CombinedBackward(self.params, combiner, generator=generator, combine_per=train_spec.combine_per,
                                       atomic=train_spec.on_oom == "skip", row_sparse=embedding_tables(student.model))
        self.optimizer = torch.optim.AdamW(self.params, lr=train_spec.lr, weight_decay=train_spec.weight_decay)
        self.steps_per_epoch = max(1, math.ceil(self.micro_batches_per_epoch() / train_spec.grad_accum))
        total = self.steps_per_epoch * train_spec.epochs
        self.total_steps = min(total, train_spec.max_steps) if train_spec.max_steps else total
        self.scheduler = make_scheduler(self.optimizer, train_spec.schedule, self.total_steps, train_spec.warmup_ratio)
        self.step = 0
        self.skipped = 0
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(train_spec.precision)
        self.window = StepWindow()  # step time, tokens/s and conflict share between log points
        self.measured_norms: dict[str, float] | None = None  # this step's objective gradient norms (sum path)
        if world > 1 and "skip" in (train_spec.on_oom, train_spec.nan_policy):
            # a rank that skips a micro-batch leaves the others waiting in the gradient all-reduce
            raise HarnessError("train.on_oom / train.nan_policy: skip works in one process only; use error with several")
        self.failures = FailurePolicy(on_oom=train_spec.on_oom, on_nonfinite=train_spec.nan_policy,
                                      max_skipped=train_spec.max_skipped,
                                      planned=self.total_steps * train_spec.grad_accum, log=self.log)

    # -- data --------------------------------------------------------------------------

    def micro_batches_per_epoch(self) -> int:
        per_rank = math.ceil(len(self.samples) / self.spec.batch_size)
        return max(1, math.ceil(per_rank / self.world))

    def micro_batches(self, epoch: int) -> list[list[TrainSample]]:
        """This rank's micro-batches of one epoch, in order."""
        order = epoch_order(len(self.samples), self.seed, epoch)
        b = self.spec.batch_size
        chunks = [order[i : i + b] for i in range(0, len(order), b)]
        mine = chunks[self.rank :: self.world]
        return [[self.samples[i] for i in chunk] for chunk in mine]

    # -- checkpoints -------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "skipped": self.skipped,
            "model": {k: v.detach().clone() for k, v in self.student.model.state_dict().items()},
            "extra": [p.detach().clone() for p in self.objectives.extra_parameters()],
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "engine": self.engine.state_dict(),
            "failures": self.failures.state_dict(),
            "rng": rng_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.student.model.load_state_dict(state["model"])
        with torch.no_grad():
            for p, saved in zip(self.objectives.extra_parameters(), state.get("extra", [])):
                p.copy_(saved)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.engine.load_state_dict(state["engine"])
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.skipped = int(state.get("skipped", 0))
        self.failures.load_state_dict(state.get("failures", {}))

    def resume(self) -> int | None:
        """Load the newest good checkpoint of the run, if any; returns its step.

        Whatever was found, metrics.jsonl is trimmed to the step training restarts
        from (0 without a checkpoint), since the killed process's later steps are redone.
        """
        if self.run is None:
            return None
        clean_temporaries(self.run.path)
        found = resume_point(self.run.path)
        if found is not None:
            self.load_state(found[1])
        if self.rank == 0:
            kept = [r for r in self.run.metrics() if int(r.get("step", 0)) <= self.step]
            atomic_write_text(self.run.metrics_file, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
        return self.step if found is not None else None

    def checkpoint(self) -> None:
        if self.run is not None and self.rank == 0:
            save_checkpoint(self.run.path, self.step, self.state())

    # -- the loop ----------------------------------------------------------------------

    def train(self, *, resume: bool = False) -> TrainResult:
        resumed_from = self.resume() if resume else None
        self.student.model.train()
        device = next(self.student.model.parameters()).device
        start = time.perf_counter()
        last: dict[str, float] = {}
        bar = tqdm(total=self.total_steps, initial=self.step, desc="distil", unit="step", disable=not self.progress)
        stream, stream_epoch = None, None
        while self.step < self.total_steps:
            epoch, in_epoch = divmod(self.step, self.steps_per_epoch)
            accum = self.spec.grad_accum
            if stream_epoch != epoch:  # one prefetching stream per epoch, from where this step starts
                stream, stream_epoch = MicroBatchStream(self.student, self.micro_batches(epoch)[in_epoch * accum:],
                                                        num_workers=self.spec.num_workers,
                                                        pin_memory=device.type == "cuda", memo=self.encodings), epoch
            last = self.optimizer_step(stream.take(accum), device)
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in list(last.items())[:4]})
            if self.spec.checkpoint_every and self.step % self.spec.checkpoint_every == 0 and self.step < self.total_steps:
                self.checkpoint()
        bar.close()
        return TrainResult(self.step, self.skipped, time.perf_counter() - start, last, resumed_from,
                           self.failures.summary())

    def optimizer_step(self, group: list[tuple[list[TrainSample], Batch]], device) -> dict[str, float]:
        """One optimizer step over ``(samples, collated batch)`` micro-batches (from a
        :class:`MicroBatchStream`); returns the mean objective values.

        A micro-batch that runs out of memory or yields a non-finite objective goes to the
        failure policy (:mod:`harness.train.failures`): the run stops naming it, or it is
        skipped alone. A step whose micro-batches were all skipped takes no optimizer step
        (the schedule still advances with the data).
        """
        started = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        trained = 0
        tokens = 0
        scale = 1.0 / self.spec.grad_accum if self.spec.accum_reduction == "mean" else 1.0
        measure = not self.engine.per_objective and measures_norms(
            self.step + 1, self.spec.grad_norms_every, self.total_steps, self.spec.log_every)
        self.measured_norms = None
        for micro, (samples, batch) in enumerate(group):
            tokens += int(batch.attention_mask.sum())
            outcome = self.micro_batch(samples, batch, device, micro + 1, scale, measure=measure)
            if outcome == "lost_step":  # .grad was half written when memory ran out: the step is gone
                trained = 0
                break
            if outcome is not None:
                trained += 1
                for name, value in outcome.items():
                    sums[name] = sums.get(name, 0.0) + value
        records = self.engine.finish()
        grad_norm = None
        if trained:
            grad_norm = self.gradient_norm()
            if not math.isfinite(grad_norm):
                self.failures.failed("nonfinite", f"the combined gradient's norm is {grad_norm} at step {self.step + 1}",
                                     step=self.step + 1, micro_batches=trained)
                trained = 0
        if not trained:
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            self.step += 1
            with warnings.catch_warnings():  # the schedule advances with the data, step taken or not
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()
            return {}
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        means = {k: v / trained for k, v in sums.items()}
        combined = [r.diagnostics() for r in records]
        self.window.add(seconds=time.perf_counter() - started, tokens=tokens, diagnostics=combined)
        if self.log is not None and (self.step % self.spec.log_every == 0 or self.step == self.total_steps):
            record: dict[str, Any] = {"step": self.step, "lr": lr, "loss": means, **self.window.flush()}
            record["grad_norm"] = grad_norm  # the step's update (before clipping, when clipped)
            if trained < len(group):
                record["skipped_micro_batches"] = len(group) - trained
            if combined:
                record["combine"] = combined[-1]
                if self.measured_norms is not None and "grad_norms" not in record["combine"]:
                    record["combine"] = {**record["combine"], "grad_norms": self.measured_norms}
            self.log(record)
        return means

    def micro_batch(self, samples: list[TrainSample], batch: Batch, device, micro: int, scale: float, *,
                    measure: bool = False):
        """Forward and backward of one micro-batch: its objective values, None if skipped, or "lost_step".
        ``measure``: first take each objective's gradient norm (the last micro-batch's is logged, as the
        Gramian path logs its last combination's)."""
        seq_len = None
        try:
            batch = batch.to(device)
            seq_len = int(batch.input_ids.shape[1])
            targets = self.targets.for_batch(samples, batch)
            with torch.autocast(device_type=device.type, dtype=self.autocast_dtype or torch.float32,
                                enabled=self.autocast_dtype is not None):
                outputs = self.objectives.forward_student(batch)
                losses = self.objectives.losses(outputs, batch, targets)
            bad = [name for name, value in losses.items() if not bool(torch.isfinite(value.detach()).all())]
            if bad:
                value = float(losses[bad[0]].detach())
                message = f"objective '{bad[0]}' is {value} at {where(samples, seq_len, self.step + 1, micro)}"
                self.failures.failed("nonfinite", message, step=self.step + 1)
                return None
            values = {name: float(value.detach()) for name, value in losses.items()}
            if scale != 1.0:
                losses = {name: value * scale for name, value in losses.items()}
            if measure:
                self.measured_norms = objective_gradient_norms(losses, self.params)
            self.engine.backward(losses, scales=self.objectives.scales(batch))
            return values
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            lost = self.engine.recover()  # True when .grad was being written when memory ran out
            free_accelerator_memory()
            message = f"out of memory at {where(samples, seq_len, self.step + 1, micro)}"
            if lost:
                message += "; the step's gradients were half written, so the whole step is dropped"
            self.failures.failed("oom", message, step=self.step + 1)
            return "lost_step" if lost else None

    def gradient_norm(self) -> float:
        """The combined gradient's norm (after clipping to ``max_grad_norm`` when set); Inf/NaN if non-finite."""
        if self.spec.max_grad_norm:
            return float(torch.nn.utils.clip_grad_norm_(self.params, self.spec.max_grad_norm))
        grads = [p.grad for p in self.params if p.grad is not None]
        return float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0
