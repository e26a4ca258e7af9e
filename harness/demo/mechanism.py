"""The demo's mechanism stage: where each model looks, and how closely each student follows its teacher.

Why a stage of its own: a method that beats SFT on the closed questions could do so for
reasons that have nothing to do with attention. The issue-19 design asks the demo to
show the mechanism too: each student's text-to-vision maps against its teacher's (map
MSE, correlation) and the share of attention on the referred object, for SFT, every
distilled student and the negative control.

Per family, in one worker: the family's teacher and the final weights of each method's
first-seed run (``student/`` in its run folder) see the same held-out clean items
(:func:`harness.eval.attention_maps.capture_text_to_vision`); the rows are
:func:`harness.report.mechanism.mechanism_rows` (pure math in
:mod:`harness.eval.mechanism`). The first seed only: agreement pairs a student's item
with the teacher's same item, and pooling seeds would count each item twice.

The teacher is also measured at each of its other layers (named by index, 0 = first): a
teacher may look at the object in neither named layer (the Qwen2.5-VL teacher looks in its
second and last, docs/demo.md), and the question of item 2 is whether it looks at all.

The result is ``mechanism-<family>.json`` in the demo folder, keyed by what it was made
from (the content of the teacher's and students' folders, the items, the layers), so a
second demo with unchanged runs reads it back instead of capturing again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness.files import atomic_write_json
from harness.integrity import content_hash, folder_digest

log = logging.getLogger(__name__)

VERSION = 2  # 2: the teacher's rows at every layer as well
#: Layers compared, named as the signals name them (resolved per model depth).
LAYERS = ("first", "penultimate")
#: Held-out clean items captured per model (the first N of the evaluation split).
ITEMS = 176
TEACHER_LABEL = "teacher"


@dataclass(frozen=True)
class System:
    """One model of the table: its row label and the folder its weights are in."""

    label: str
    folder: str


def result_file(out: Path, family: str) -> Path:
    return Path(out) / f"mechanism-{family}.json"


def mechanism_key(family: str, teacher: System, students: Sequence[System], data: dict, n_items: int,
                  layers: Sequence[str]) -> str:
    return content_hash({"v": VERSION, "family": family, "teacher": folder_digest(teacher.folder),
                         "students": [(s.label, folder_digest(s.folder)) for s in students],
                         "data": data, "items": n_items, "layers": list(layers)})


def is_current(path: Path, key: str) -> bool:
    """Whether ``path`` holds the rows made from exactly what ``key`` names (unreadable: no)."""
    try:
        return json.loads(Path(path).read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def measure_family(out: str, family: str, teacher: System, students: Sequence[System], data: dict, *,
                   n_items: int = ITEMS, layers: Sequence[str] = LAYERS, threads: int = 1) -> Path:
    """Capture every system's maps on the same items and write the family's mechanism rows.

    Always measures; whether stored rows are still current is the caller's question
    (:func:`is_current` with :func:`mechanism_key`, as the demo's stage 4 asks it)."""
    from harness import components  # noqa: F401  (registries)
    from harness.devices import torch_threads
    from harness.eval.attention_maps import capture_text_to_vision
    from harness.models import load_model
    from harness.registry import DATASETS
    from harness.report.mechanism import mechanism_rows
    from harness.signals.layers import resolve_layers

    path = result_file(Path(out), family)
    key = mechanism_key(family, teacher, students, data, n_items, layers)
    start = time.perf_counter()
    with torch_threads(threads):
        items = DATASETS.build(data, field="demo mechanism data").eval_items("clean")[:n_items]
        maps, every = {}, []
        for system in (teacher, *students):
            loaded = load_model({"family": family, "path": system.folder})
            if system is teacher:  # the teacher at its other layers too: where it looks may be neither named one
                named = {resolve_layers(layer, loaded.depth)[0] for layer in layers}
                every = [str(i) for i in range(loaded.depth) if i not in named]
            maps[system.label] = capture_text_to_vision(loaded, items, layers=[*layers, *(every if system is teacher else [])],
                                                        batch_size=16)
            del loaded
        teacher_maps = maps[teacher.label]
        rows = mechanism_rows(maps, teacher_maps, layers=layers, teacher_layers=every)
    for row in rows:
        row["family"] = family
    atomic_write_json(path, {"version": VERSION, "key": key, "family": family, "items": len(items),
                             "layers": list(layers), "rows": rows,
                             "seconds": round(time.perf_counter() - start, 1)})
    log.info("demo mechanism %s: %d systems × %d items in %.0f s", family, len(maps), len(items),
             time.perf_counter() - start)
    return path


def read_rows(out: Path, families: Sequence[str]) -> list[dict]:
    """Every family's mechanism rows that exist under ``out``, families in order."""
    rows: list[dict] = []
    for family in families:
        path = result_file(out, family)
        if path.is_file():
            rows.extend(json.loads(path.read_text())["rows"])
    return rows
