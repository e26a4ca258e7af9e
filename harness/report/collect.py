"""Run directories → one tidy pandas frame (one row per run × item × setting).

Every report starts here. A run contributes when it is finished and has
``eval/scores.parquet``; anything else is skipped with a reason, so a half-finished
sweep still reports what it has and says what it left out.

Two frames come back:

- ``items``: the rows of every run's scores.parquet (columns as in the evaluation
  contract) plus the run's identity and a few fields that tables group by
  (recipe name, hash, seed, study, variant, trial, params, student and teacher
  family/scale/zoo, judge);
- ``runs``: one row per run with those fields and the efficiency numbers of
  ``eval/summary.json``.

Any other field of a run's resolved recipe is reached with :func:`run_field`
(dotted path), so an ablation table may group by whatever its study varied.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import yaml

from harness.errors import HarnessError
from harness.rundir import EVAL_DIR, INFO_FILE, RunDir

SCORE_COLUMNS = (
    "item_id", "task", "capability", "kind", "tag", "setting", "pred_official", "pred_strict",
    "correct_official", "correct_strict", "judge_total", "judge_criteria", "judge_id",
)
# Added to the evaluation contract later (closed answers ranked by option likelihood): runs evaluated
# before read as not ranked (missing), never as wrong.
OPTIONAL_SCORE_COLUMNS = ("pred_ranked", "correct_ranked")
# Cluster labels the report resamples by; optional, since runs evaluated before they were
# written lack them (a table then resamples items and its caption says so).
CLUSTER_COLUMNS = ("frame_token", "scene_token")
EFFICIENCY_FIELDS = ("device", "batch_size", "peak_memory_mb", "tokens_per_second", "first_token_latency_s")
_MISSING = object()


class ReportInputError(HarnessError):
    """A run directory or ablation file cannot be reported as it stands."""


@dataclass
class Collected:
    """What :func:`collect` found: the tidy item frame, the run frame and what was skipped."""

    items: pd.DataFrame
    runs: pd.DataFrame
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_id → resolved recipe
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_id → run.json
    skipped: list[str] = field(default_factory=list)  # "path: reason"

    def value_of(self, run_id: str, dotted: str) -> Any:
        """A run's value for a dotted path (see :func:`run_field`)."""
        return run_field(self.infos.get(run_id, {}), self.recipes.get(run_id, {}), dotted)

    def subset(self, run_ids) -> "Collected":
        """Only these runs (in the frames' order); the skipped list is kept."""
        keep = set(run_ids)
        return Collected(
            items=self.items[self.items["run_id"].isin(keep)].reset_index(drop=True),
            runs=self.runs[self.runs["run_id"].isin(keep)].reset_index(drop=True),
            recipes={k: v for k, v in self.recipes.items() if k in keep},
            infos={k: v for k, v in self.infos.items() if k in keep},
            skipped=list(self.skipped),
        )


def find_run_dirs(root: str | Path) -> list[Path]:
    """Every directory under ``root`` (or ``root`` itself) that holds a run.json, sorted."""
    root = Path(root)
    if not root.exists():
        raise ReportInputError(f"{root}: no such directory")
    if RunDir(root).info_file.is_file():
        return [root]
    return sorted(p.parent for p in root.rglob(INFO_FILE) if EVAL_DIR not in p.parent.parts[len(root.parts):])


def run_field(info: dict[str, Any], recipe: dict[str, Any], dotted: str) -> Any:
    """A run's value for a dotted path: run.json fields first (``variant``, ``seed``,
    ``study``, ``params.x``, ``summary.eval.avg``), then the resolved recipe
    (``student.zoo``, ``combiner.name``, ``teachers.perception_teacher.scale``)."""
    if dotted in (info.get("params") or {}):
        return info["params"][dotted]
    for source in (info, recipe):
        value = _dig(source, dotted)
        if value is not _MISSING:
            return value
    if dotted == "method":
        return info.get("variant") or info.get("recipe_name")
    return None


def _dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return _MISSING
    return obj


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _read_recipe(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ReportInputError(f"{path}: not valid YAML ({exc})") from None
    return data if isinstance(data, dict) else {}


def _model_fields(prefix: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    spec = spec or {}
    return {f"{prefix}_{k}": spec.get(k) for k in ("family", "scale", "zoo", "path")}


def _teacher_fields(teachers: dict[str, Any] | None) -> dict[str, Any]:
    """Teacher family/scale/zoo when every teacher agrees; otherwise each named in one string."""
    teachers = teachers or {}
    out: dict[str, Any] = {"teachers": ", ".join(
        f"{name}={t.get('family')}/{t.get('scale') or t.get('zoo') or t.get('path')}"
        for name, t in sorted(teachers.items()) if isinstance(t, dict)) or None}
    for key in ("family", "scale", "zoo"):
        values = {t.get(key) for t in teachers.values() if isinstance(t, dict)}
        out[f"teacher_{key}"] = values.pop() if len(values) == 1 else ("mixed" if values else None)
    return out


def _run_row(path: Path, run_id: str, info: dict, recipe: dict, summary: dict) -> dict[str, Any]:
    efficiency = summary.get("efficiency") or {}
    row: dict[str, Any] = {
        "run_id": run_id,
        "run_path": str(path),
        "recipe_name": info.get("recipe_name") or recipe.get("name") or info.get("model"),
        "config_hash": info.get("config_hash") or info.get("recipe_hash"),  # recipe_hash: identity 1
        "seed": info.get("seed", recipe.get("seed")),
        "study": info.get("study"),
        "variant": info.get("variant"),
        "trial": info.get("trial"),
        "params": json.dumps(info.get("params"), sort_keys=True, default=str) if info.get("params") is not None else None,
        "summary_judge_id": summary.get("judge_id"),
    }
    row.update(_model_fields("student", recipe.get("student")))
    row.update(_teacher_fields(recipe.get("teachers")))
    for key in EFFICIENCY_FIELDS:
        value = efficiency.get(key)
        row[key] = value if not (isinstance(value, float) and math.isnan(value)) else None
    return row


def in_study(info: dict[str, Any], study: str | None) -> dict[str, Any] | None:
    """run.json as seen from ``study`` (None: not one of its runs).

    A run shared by two studies keeps the latest in its top-level fields and every
    study under ``studies`` (the sweep's tag_run); the entry of the asked-for study
    supplies variant, trial and params.
    """
    if study is None:
        return info
    entry = (info.get("studies") or {}).get(study)
    if entry is not None:
        return {**info, "study": study, **{k: entry[k] for k in ("variant", "trial", "params") if k in entry}}
    return info if info.get("study") == study else None


def _eval_only_recipe(info: dict[str, Any]) -> dict[str, Any]:
    """`harness eval` directories (a model evaluated without training) have no recipe:
    their model spec stands in as the student, so family/scale group them like runs."""
    if info.get("kind") != "eval":
        return {}
    return {"name": info.get("model"), "student": dict(info.get("model_spec") or {})}


def _run_id(path: Path, info: dict) -> str:
    name = info.get("recipe_name") or info.get("model") or path.parent.name
    return f"{name}/{path.name}"


def _read_scores(path: Path) -> pd.DataFrame:
    file = RunDir(path).scores_file
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise ReportInputError(f"{file}: cannot be read as parquet ({exc})") from None
    missing = [c for c in SCORE_COLUMNS if c not in frame.columns]
    if missing:
        raise ReportInputError(f"{file}: missing column(s) {', '.join(missing)} (see the evaluation contract)")
    for column in OPTIONAL_SCORE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series([None] * len(frame), dtype="boolean" if column.startswith("correct") else object)
    return frame


def collect(sources: str | Path | Iterable[str | Path], *, study: str | None = None) -> Collected:
    """Gather finished, evaluated run directories under ``sources`` into frames.

    ``study`` keeps only runs whose run.json names that study (an ablation's runs).
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    dirs: list[Path] = []
    for source in sources:
        dirs.extend(find_run_dirs(source))
    run_rows, item_frames, recipes, infos, skipped = [], [], {}, {}, []
    seen: set[str] = set()
    for path in dirs:
        run = RunDir(path)
        info = in_study(_read_json(run.info_file), study)
        if info is None:
            continue
        if info.get("status") != "finished":
            skipped.append(f"{path}: status is {info.get('status') or 'unknown'}, not finished")
            continue
        if not run.scores_file.is_file():
            skipped.append(f"{path}: no eval/scores.parquet (not evaluated)")
            continue
        run_id = _run_id(path, info)
        if run_id in seen:  # same recipe name and folder name under two roots
            run_id = str(path)
        seen.add(run_id)
        recipe = _read_recipe(run.recipe_file) or _eval_only_recipe(info)
        summary = _read_json(run.summary_file)
        row = _run_row(path, run_id, info, recipe, summary)
        scores = _read_scores(path)
        for key in ("run_id", "recipe_name", "config_hash", "seed", "study", "variant", "trial", "params",
                    "student_family", "student_scale", "student_zoo", "teachers", "teacher_family",
                    "teacher_scale", "teacher_zoo"):
            scores[key] = row[key]
        run_rows.append(row)
        item_frames.append(scores)
        recipes[run_id] = recipe
        infos[run_id] = info
    runs = pd.DataFrame(run_rows)
    items = pd.concat(item_frames, ignore_index=True) if item_frames else pd.DataFrame(columns=[*SCORE_COLUMNS, *OPTIONAL_SCORE_COLUMNS])
    return Collected(items=items, runs=runs, recipes=recipes, infos=infos, skipped=skipped)
