"""Run directories synthesised exactly as the evaluation contract lays them out.

Reports are tested on these because they carry KNOWN effects: a system whose
scores are the baseline's plus 10 must be marked better, one drawn from the same
distribution must not.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from harness.files import append_jsonl, atomic_write_json

TASK_OF = {"perception": "perception", "reasoning": "behavior", "planning": "planning"}


def item_table(n_per_capability: int = 40, *, per_frame: int = 2, frames_per_scene: int = 4) -> pd.DataFrame:
    """The item set: ids, capability, task, kind, tag (half the perception items MCQ), and clusters.

    As in DriveBench, a key frame holds questions of every capability (``per_frame`` of
    each, so 6 per frame by default) and a scene several frames.
    """
    rows = []
    for capability, task in TASK_OF.items():
        for i in range(n_per_capability):
            kind = "mcq" if capability == "reasoning" or (capability == "perception" and i % 2 == 0) else "open"
            frame = i // per_frame
            rows.append({"item_id": f"{capability[:4]}-{i:04d}", "capability": capability, "task": task,
                         "kind": kind, "tag": 0 if kind == "mcq" else 1, "frame_token": f"frame-{frame:04d}",
                         "scene_token": f"scene-{frame // frames_per_scene:03d}"})
    return pd.DataFrame(rows)


def base_scores(items: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Per-item 'difficulty' scores shared by systems (what pairing exploits)."""
    return np.random.default_rng(seed).uniform(10, 90, len(items))


def write_run(root: Path, recipe_name: str, judge_total: np.ndarray, items: pd.DataFrame, *,
              seed: int = 0, study: str | None = None, variant: str | None = None, trial: int | None = None,
              params: dict | None = None, judge_id: str = "rubric-v1", setting: str = "clean",
              correct: np.ndarray | None = None, student: dict | None = None, teacher: dict | None = None,
              combiner: str = "agp", efficiency: dict | None = None, metrics: list[dict] | None = None,
              summary: dict | None = None, status: str = "finished", settings: dict | None = None,
              ranked: np.ndarray | None = None) -> Path:
    """One finished, evaluated run directory with the given per-item judge scores (``correct``: the parsed
    closed answers' correctness, ``ranked``: the likelihood-ranked ones', written only when given)."""
    digest = hashlib.sha256(f"{recipe_name}|{variant}".encode()).hexdigest()
    path = Path(root) / "runs" / recipe_name / f"{digest[:8]}-s{seed}"
    path.mkdir(parents=True)
    recipe = {"name": recipe_name, "seed": seed,
              "student": student or {"family": "internvl3", "zoo": "student", "scale": None},
              "teachers": {"perception_teacher": teacher or {"family": "internvl3", "zoo": "teacher_s", "scale": None}},
              "combiner": {"name": combiner}, "train": {"lr": 1e-3}}
    (path / "recipe.resolved.yaml").write_text(yaml.safe_dump(recipe))
    info = {"status": status, "recipe_name": recipe_name, "config_hash": digest,
            "seed": seed, "summary": summary or {"eval": {}}}
    if study is not None:
        info.update(study=study, variant=variant, trial=trial, params=params or {})
    atomic_write_json(path / "run.json", info)
    for record in metrics or []:
        append_jsonl(path / "metrics.jsonl", record)
    if correct is None:
        correct = (judge_total > 50).astype(float)
    frames = []
    for name, totals in (settings or {setting: judge_total}).items():
        frame = items.copy()
        frame["run"] = path.name
        frame["model"] = "tiny-student"
        frame["setting"] = name
        closed = frame["kind"] != "open"
        frame["pred_official"] = np.where(closed, "A", None)
        frame["pred_strict"] = np.where(closed, "A", None)
        frame["correct_official"] = pd.array([bool(c) if k else None for c, k in zip(correct, closed)], dtype="boolean")
        frame["correct_strict"] = frame["correct_official"]
        if ranked is not None:  # closed answers ranked by option likelihood (absent from older runs)
            frame["pred_ranked"] = np.where(closed, "B", None)
            frame["correct_ranked"] = pd.array([bool(c) if k else None for c, k in zip(ranked, closed)],
                                               dtype="boolean")
        frame["judge_total"] = np.asarray(totals, dtype=float)
        frame["judge_criteria"] = json.dumps({"correctness": 1})
        frame["judge_id"] = judge_id
        frames.append(frame)
    (path / "eval").mkdir()
    pd.concat(frames, ignore_index=True).to_parquet(path / "eval" / "scores.parquet")
    atomic_write_json(path / "eval" / "summary.json", {
        "judge_id": judge_id, "settings": {},
        "efficiency": efficiency or {"device": "cpu", "batch_size": 8, "peak_memory_mb": 100.0 + seed,
                                     "tokens_per_second": 50.0, "first_token_latency_s": 0.1}})
    return path
