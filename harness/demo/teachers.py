"""Demo teachers built once by this module and shipped with the repository as checksummed folders.

Why: a teacher worth distilling (one that reads the referred object's colour off its
56 px image, issue 19 and docs/demo.md) needs many fresh questions and thousands of
steps: 5,000 steps of batch 16 per family (:data:`STEPS`) on 12,800 (InternVL3) or
51,200 (Qwen2.5-VL) colour questions (:data:`QUESTIONS`), 43 to 55 minutes of one core
each. The demo's 15-minute budget
cannot hold that next to its student runs. `harness demo --build-teachers` fine-tunes
each family's tiny ``teacher_s`` with the harness's own SFT
(:func:`harness.train.sft.train_teacher`) on :func:`build_for` and writes it as an
ordinary HF folder under ``ablations/tiny/teachers/<family>/`` with ``build.json`` (the
settings, losses and seconds) and ``checksums.json``. A demo recipe that names a
teacher by ``path`` (and no ``sft``) gets it checked against its checksums before the
demo uses it (:func:`harness.demo.models.shipped_teachers`). Rebuilding is
deterministic on one machine (fixed seeds, one thread); another machine's weights may
differ in the last bits, which is why the folders are shipped and not rebuilt.

Fewer questions or fewer steps were tried and give teachers that look less (docs/demo.md,
"The colour study"): more distinct questions help (not always: Qwen2.5-VL on 25,600 read its
image less than on 12,800 or 51,200), a larger teacher does not.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.paths import REPO_ROOT

log = logging.getLogger(__name__)

TEACHERS_DIR = REPO_ROOT / "ablations" / "tiny" / "teachers"
BUILD_FILE = "build.json"
#: What every demo teacher is: the tiny zoo's teacher_s fine-tuned on colour questions (synthetic
#: seed 0, the demo's training scenes, of which the students get the first 400; the evaluation
#: split is other scenes). ``data.train`` is the family's :data:`QUESTIONS`.
BUILD: dict[str, Any] = {
    "zoo": "teacher_s",
    "data": {"name": "synthetic", "seed": 0, "eval": 8, "templates": ["object_colour"], "corruptions": []},
    "sft": {"lr": 2.0e-3, "batch_size": 16, "seed": 0},
}
#: Optimizer steps per family. More steps of one recipe are not the way to a better teacher: an
#: 8,000-step Qwen2.5-VL build on 12,800 questions read its image less (+10.8 points over
#: text-only, against +19.3 at 5,000; docs/demo.md).
STEPS = {"internvl3": 5000, "qwen2_5_vl": 5000}
#: Distinct training questions per family. Qwen2.5-VL's teacher on 12,800 ended 0.7 points under
#: issue 19's 20-point bar over text-only and its first layer gave its perception student nothing
#: to gain; on 51,200 it reads its image 21.0 points above text-only (docs/demo.md).
QUESTIONS = {"internvl3": 12800, "qwen2_5_vl": 51200}


def build_for(family: str) -> dict[str, Any]:
    """``family``'s build: :data:`BUILD` with its :data:`QUESTIONS` and :data:`STEPS` (and enough
    epochs to reach them)."""
    if family not in STEPS:
        raise HarnessError(f"no demo teacher recipe for family '{family}' (known: {', '.join(STEPS)})")
    steps, questions = STEPS[family], QUESTIONS[family]
    per_epoch = -(-questions // BUILD["sft"]["batch_size"])
    return {**BUILD, "data": {**BUILD["data"], "train": questions},
            "sft": {**BUILD["sft"], "epochs": -(-steps // per_epoch), "max_steps": steps}}


def teacher_folder(family: str, root: Path = TEACHERS_DIR) -> Path:
    return root / family


def check_teacher(folder: Path) -> Path:
    """``folder`` when it is a complete shipped teacher (checksums match), else a one-line error."""
    from harness.integrity import CorruptArtifact, verify_checksums

    if not (folder / "checksums.json").is_file():
        raise HarnessError(f"{folder}: no shipped demo teacher here; build it with `harness demo --build-teachers`")
    try:
        verify_checksums(folder, what="demo teacher")
    except CorruptArtifact as exc:
        raise HarnessError(f"{exc}; rebuild it with `harness demo --build-teachers`") from None
    return folder


def build_teacher(family: str, root: Path = TEACHERS_DIR, build: dict[str, Any] | None = None) -> Path:
    """Fine-tune ``family``'s teacher_s on ``build``'s data and settings (default :func:`build_for`);
    write it to ``root/family``."""
    import torch

    from harness import components  # noqa: F401  (registries)
    from harness.integrity import write_checksums
    from harness.models import load_model
    from harness.models.base import quiet_progress
    from harness.recipe.schema import SFTSpec
    from harness.registry import DATASETS
    from harness.files import atomic_folder
    from harness.train.sft import train_teacher
    from harness.devices import torch_threads

    with torch_threads(1):
        start = time.perf_counter()
        build = build_for(family) if build is None else build
        settings = dict(build["sft"])
        seed = settings.pop("seed")
        samples = DATASETS.build(build["data"], field="demo teacher data").train_samples()
        loaded = load_model({"family": family, "zoo": build["zoo"]})
        losses = train_teacher(loaded, samples, SFTSpec(**settings), seed, progress=False)
        final = teacher_folder(family, root)
        with atomic_folder(final) as tmp:  # replaces an older build only once the new one is complete
            with quiet_progress():
                loaded.model.save_pretrained(tmp)
                loaded.processor.save_pretrained(tmp)
            note = {"family": family, **build, "samples": len(samples), "loss": losses,
                    "seconds": round(time.perf_counter() - start, 1), "torch": torch.__version__}
            (tmp / BUILD_FILE).write_text(json.dumps(note, indent=2) + "\n")
            write_checksums(tmp)
        log.info("built the %s demo teacher in %.0f s → %s", family, time.perf_counter() - start, final)
        return final
