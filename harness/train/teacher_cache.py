"""Teacher targets for the distillation objectives: cached on disk, or computed live.

``TeacherCache`` turns the teachers into per-objective targets (the head-mean maps
of the matched teacher-layer groups, hidden states, logits: whatever each
objective's recorder, :mod:`harness.signals.recorder`, reads). In ``disk`` mode
each objective's targets for the whole training set are computed once, keyed by a
hash of (teacher weights, data, prompt template, signal), stored as float16
safetensors shards, and reused by every epoch, seed and sweep trial with the same
key; the expected size is printed before building. In ``live`` mode targets are
computed per batch, for data too large to store. Both paths produce identical
tensors up to float16 rounding of the stored copy (a test checks the losses).

A negative-control teacher (``teachers.KEY.control``) shares the store of the real
teacher it copies (the key has no control in it); its image columns are permuted
when a batch's targets are handed out, in both modes.

Targets are stored per sample trimmed to that sample's own length (training
batches are right-padded), and padded back to the student batch's length on read;
the objective's recorder says how (``trim``, ``pad``, ``collate``).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import torch
from tqdm.auto import tqdm

from harness.data.collate import collate_train, same_encoding
from harness.data.types import TrainSample
from harness.errors import HarnessError
from harness.integrity import content_hash, remove_stale_builds
from harness.paths import cache_dir
from harness.signals import Recording, check_same_layout, requests
from harness.signals.controls import permute_image_columns
from harness.train.identity import TARGETS_VERSION
from harness.train.objectives import DistillObjective, ObjectiveSet
from harness.locks import BuildLock
from harness.train.target_store import TargetStore, TargetStoreWriter, is_complete

log = logging.getLogger(__name__)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


class TeacherCache:
    """Per-batch teacher targets for every distillation objective of a run."""

    def __init__(
        self,
        objectives: ObjectiveSet,
        teachers: Mapping[str, object],
        *,
        teacher_ids: Mapping[str, str],
        data_id: str,
        template_id: str,
        mode: str = "disk",
        root: str | Path | None = None,
        batch_size: int = 8,
        progress: bool = True,
        controls: Mapping[str, object] | None = None,
    ):
        if mode not in ("disk", "live"):
            raise HarnessError(f"cache.mode '{mode}' is not one of disk, live")
        self.objectives = objectives
        self.teachers = teachers
        self.teacher_names = {k: t.name for k, t in teachers.items()}
        self._shares_batch = {k: same_encoding(objectives.student, t) for k, t in teachers.items()}
        self.mode = mode
        self.controls = dict(controls or {})  # teacher key → its ControlSpec (permute_image_columns, seed)
        self.root = Path(root) if root else cache_dir() / "targets"
        self.batch_size = batch_size
        self.progress = progress
        self.keys = {d.name: content_hash(store_key(d, teacher_ids[d.teacher], data_id, template_id)) for d in objectives.distill}
        self.stores: dict[str, TargetStore] = {}
        self.teacher_seconds = 0.0  # time spent in teacher forwards (benchmarks read it)
        self.teacher_forwards = 0

    def release_teachers(self) -> None:
        """Forget the teacher models (disk mode, once built: reads need only the stores)."""
        if self.mode == "live":
            raise HarnessError("teacher cache: live targets need their teachers")
        self.teachers = {}

    # -- building ----------------------------------------------------------------------

    def path(self, objective: str) -> Path:
        return self.root / self.keys[objective][:24]

    def prepare(self, samples: Sequence[TrainSample]) -> None:
        """In disk mode, build every missing store (one teacher pass serves all its objectives)."""
        if self.mode == "live" or not self.objectives.distill:
            return
        missing: dict[str, list[DistillObjective]] = defaultdict(list)
        for d in self.objectives.distill:
            if is_complete(self.path(d.name)):
                continue
            missing[d.teacher].append(d)
        for teacher_key, objs in missing.items():
            paths = [self.path(d.name) for d in objs]
            with BuildLock(self.root / f"build-{teacher_key}-{self.keys[objs[0].name][:12]}"):
                todo = [d for d, p in zip(objs, paths) if not is_complete(p)]
                for d in todo:  # another process may have built some while we waited
                    path = self.path(d.name)
                    remove_stale_builds(path)
                    if path.exists():
                        log.warning("teacher cache %s is damaged or incomplete; rebuilding it", path)
                        shutil.rmtree(path)
                if todo:
                    self._build(teacher_key, todo, samples)
        for d in self.objectives.distill:
            self.stores[d.name] = TargetStore(self.path(d.name))

    def _build(self, teacher_key: str, objs: list[DistillObjective], samples: Sequence[TrainSample]) -> None:
        teacher = self.teachers[teacher_key]
        probe = samples[: min(len(samples), self.batch_size)]
        probe_targets, probe_batch = self.compute(teacher_key, objs, probe)
        per_sample = sum(_stored_bytes(d, probe_targets[d.name], probe_batch) for d in objs) / max(1, len(probe))
        names = ", ".join(d.name for d in objs)
        log.info("teacher cache: %s → %s: ≈%s for %d samples (float16) under %s",
                 teacher.name, names, human_bytes(per_sample * len(samples)), len(samples), self.root)
        writers = {d.name: TargetStoreWriter(self.path(d.name), meta={"objective": d.name, "teacher": teacher.name, **d.describe()}) for d in objs}
        try:
            bar = tqdm(total=len(samples), desc=f"teacher targets ({teacher.name})", unit="sample", disable=not self.progress)
            for start in range(0, len(samples), self.batch_size):
                chunk = samples[start : start + self.batch_size]
                if start == 0:
                    targets, tb = probe_targets, probe_batch
                else:
                    targets, tb = self.compute(teacher_key, objs, chunk)
                lengths = tb.attention_mask.sum(dim=1).tolist()
                for i, sample in enumerate(chunk):
                    n = int(lengths[i])
                    for d in objs:
                        writers[d.name].add(sample.id, {f"t{j}": d.recorder.trim(t[i], n) for j, t in enumerate(targets[d.name])})
                bar.update(len(chunk))
            bar.close()
            for w in writers.values():
                w.commit()
        except BaseException:
            for w in writers.values():
                w.abort()
            raise

    # -- computing ---------------------------------------------------------------------

    def compute(self, teacher_key: str, objs: Sequence[DistillObjective], samples: Sequence[TrainSample], student_batch=None):
        """Run one teacher on ``samples``: (targets by objective, the teacher's batch)."""
        teacher = self.teachers[teacher_key]
        if student_batch is not None and self._shares_batch[teacher_key]:
            tb = student_batch  # same processor and template: the student's decoded images and tokens serve
        else:
            tb = collate_train(samples, teacher)
            if student_batch is not None:
                check_same_layout(self.objectives.student.name, teacher.name, student_batch, tb)
        device = next(teacher.model.parameters()).device
        tb = tb.to(device)
        start = time.perf_counter()
        with torch.no_grad(), Recording(teacher, requests((d.needs, d.plan.teacher_layers) for d in objs), grad=False) as rec:
            out = teacher.model(**tb.model_inputs(), **rec.forward_kwargs)
        self.teacher_seconds += time.perf_counter() - start
        self.teacher_forwards += 1
        taken = rec.read(out)
        return {d.name: d.recorder.targets(taken[d.needs], d.plan) for d in objs}, tb

    # -- reading -----------------------------------------------------------------------

    def for_batch(self, samples: Sequence[TrainSample], student_batch) -> dict[str, list[torch.Tensor]]:
        """Targets of every objective for one student batch, padded to its length; a control teacher's
        with each sample's image columns permuted (:mod:`harness.signals.controls`), in both modes."""
        targets = self._targets(samples, student_batch)
        ids = [s.id for s in samples]
        image = student_batch.image_mask.bool() & student_batch.attention_mask.bool()
        for d in self.objectives.distill:
            control = self.controls.get(d.teacher)
            if control is not None:
                targets[d.name] = [permute_image_columns(t, image.to(t.device), ids, control.seed, key_axis=d.recorder.key_axis)
                                   for t in targets[d.name]]
        return targets

    def _targets(self, samples: Sequence[TrainSample], student_batch) -> dict[str, list[torch.Tensor]]:
        if not self.objectives.distill:
            return {}
        if self.mode == "live":
            by_teacher: dict[str, list[DistillObjective]] = defaultdict(list)
            for d in self.objectives.distill:
                by_teacher[d.teacher].append(d)
            out: dict[str, list[torch.Tensor]] = {}
            for key, objs in by_teacher.items():
                targets, _ = self.compute(key, objs, samples, student_batch)
                out.update(targets)
            return out
        seq = student_batch.input_ids.shape[1]
        lengths = student_batch.attention_mask.sum(dim=1).tolist()
        out = {}
        for d in self.objectives.distill:
            store = self.stores[d.name]
            rows: list[list[torch.Tensor]] = []
            for i, sample in enumerate(samples):
                if sample.id not in store:
                    raise HarnessError(f"teacher cache {store.path}: no targets for sample '{sample.id}' (rebuild the cache)")
                stored = store.get(sample.id)
                row = [stored[f"t{j}"] for j in range(len(stored))]
                n = int(lengths[i])
                if row and d.recorder.length(row[0]) != n:
                    raise HarnessError(
                        f"teacher cache: sample '{sample.id}' has {d.recorder.length(row[0])} tokens for teacher "
                        f"{self.teacher_names[d.teacher]} but {n} for student {self.objectives.student.name}; "
                        "the token layouts differ"
                    )
                rows.append(row)
            out[d.name] = [d.recorder.collate([r[j] for r in rows], seq) for j in range(len(rows[0]))]
        return out


def store_key(d: DistillObjective, teacher_id: str, data_id: str, template_id: str) -> dict:
    """What one objective's stored targets depend on (hashed, it names the store's folder)."""
    key = {"version": TARGETS_VERSION, "teacher": teacher_id, "data": data_id, "template": template_id,
           "signal": d.describe()}
    if d.recorder.version != 1:  # version-1 recorders keep the keys their stores had before recorders existed
        key["recorder"] = {"name": d.needs, "version": d.recorder.version}
    return key


def _stored_bytes(d: DistillObjective, targets: list[torch.Tensor], batch) -> float:
    """float16 bytes the probe batch's targets take once trimmed (the size estimate printed before a build)."""
    lengths = batch.attention_mask.sum(dim=1).tolist()
    return float(sum(d.recorder.trim(t[i], int(n)).numel() * 2 for t in targets for i, n in enumerate(lengths)))
