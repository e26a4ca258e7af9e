"""Filling the missing verdicts of an evaluation that already ran, in place.

A judge endpoint that was down during an evaluation leaves verdicts missing
(NaN, counted in ``n_missing``), never 0. Generation is the expensive part and its
predictions are on disk, so ``harness eval --rejudge DIR`` asks the judge again
for the missing verdicts only, and rewrites scores.parquet, summary.json and the
run's summary; verdicts already there are kept. A run or evaluation whose judge
gave no verdict at all ends with :class:`NoVerdicts` (exit 3) naming this command.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.eval.aggregate import flat_summary, json_safe, summarize
from harness.eval.pipeline import load_settings
from harness.files import atomic_write_bytes, atomic_write_json
from harness.registry import DATASETS, JUDGES
from harness.rundir import RunDir


class NoVerdicts(HarnessError):
    """Every verdict of an evaluation is missing (its judge was unreachable or refused)."""

    exit_code = 3


def verdicts_missing(run: RunDir) -> str | None:
    """A one-line message when the evaluation of ``run`` (a run or evaluation folder) has items but not one verdict."""
    try:
        settings = json.loads(run.summary_file.read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError):
        return None
    items = sum(int(s.get("n_items", 0)) for s in settings.values())
    missing = sum(int(s.get("n_missing", 0)) for s in settings.values())
    if items and missing == items:
        run = run.path
        return (f"{run}: the judge gave no verdict for any of the {items} items (all missing); "
                f"once it is reachable, fill them in with `harness eval --rejudge {run}`")
    return None


def _what_was_evaluated(run: RunDir) -> tuple[str, dict, list[str], str, dict, int | None]:
    """(dataset name, dataset options, settings, judge name, judge options, max_items) of a run or evaluation."""
    info = run.info()
    if run.is_evaluation:
        data = dict(info.get("data") or {})
        judge = dict(info.get("judge") or {})
        return (data.pop("name"), data, list(info.get("settings") or ["clean"]), judge.pop("name"), judge,
                (info.get("eval") or {}).get("max_items"))
    from harness.recipe import load_recipe

    if not run.recipe_file.is_file():
        raise HarnessError(f"{run.path}: neither an evaluation (run.json kind: eval) nor a run (recipe.resolved.yaml)")
    spec = load_recipe(run.recipe_file).spec
    if spec.data.eval is None:
        raise HarnessError(f"{run.recipe_file}: data.eval: the run has no evaluation dataset")
    return (spec.data.eval.name, dict(spec.data.eval.options), list(spec.eval.settings), spec.eval.judge.name,
            dict(spec.eval.judge.options), spec.eval.max_items)


def _predictions(run: RunDir, setting: str) -> dict[str, str]:
    path = run.predictions_file(setting)
    out = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        raise HarnessError(f"{path}: missing; the evaluation cannot be re-judged without its predictions") from None
    for line in lines:
        if line.strip():
            record = json.loads(line)
            out[str(record["item_id"])] = record["prediction"]
    return out


def rejudge(path: str | Path, judge_options: dict[str, Any] | None = None) -> tuple[RunDir, int, int]:
    """Ask the judge again for every missing verdict of the evaluation at ``path``.

    ``judge_options`` override the recorded ones (e.g. the endpoint's credentials,
    which are never recorded). Returns (the run, verdicts filled, still missing).
    """
    import pandas as pd

    run = RunDir(Path(path))
    scores_file = run.scores_file
    if not scores_file.is_file():
        raise HarnessError(f"{run.path}: no eval/scores.parquet to re-judge (has it been evaluated?)")
    data_name, data_options, settings, judge_name, options, max_items = _what_was_evaluated(run)
    options.update(judge_options or {})
    judge = JUDGES.build({"name": judge_name, **options}, field="--judge-option")
    dataset = DATASETS.build({"name": data_name, **data_options}, field="data", file=str(run.path))
    per_setting = load_settings(dataset, settings, dataset_name=data_name, max_items=max_items)
    frame = pd.read_parquet(scores_file)
    filled = 0
    for setting, items in per_setting.items():
        missing = frame[(frame["setting"] == setting) & frame["judge_total"].isna()]
        if missing.empty:
            continue
        wanted = set(missing["item_id"].astype(str))
        todo = [item for item in items if item.id in wanted]
        predictions = _predictions(run, setting)
        verdicts = judge.score_many(todo, [predictions[item.id] for item in todo])
        for item, verdict in zip(todo, verdicts):
            if verdict.total is None:
                continue
            row = (frame["setting"] == setting) & (frame["item_id"].astype(str) == item.id)
            frame.loc[row, "judge_total"] = float(verdict.total)
            frame.loc[row, "judge_criteria"] = json.dumps(verdict.criteria, sort_keys=True)
            frame.loc[row, "judge_id"] = verdict.judge_id
            filled += 1
    still = int(frame["judge_total"].isna().sum())
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(scores_file, buffer.getvalue())
    previous = json.loads(run.summary_file.read_text(encoding="utf-8"))
    summary = json_safe(summarize(frame, judge.judge_id, previous.get("efficiency", {})))
    atomic_write_json(run.summary_file, summary)
    recorded = dict(run.info().get("summary") or {})
    recorded["eval"] = flat_summary(summary)
    run.update(summary=recorded, rejudged_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    return run, filled, still
