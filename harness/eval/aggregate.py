"""From per-item verdicts to scores.parquet and the capability scores of summary.json.

One row per (item, setting) keeps everything a reader needs to recompute any
number: both parser readings and their correctness, the closed answer ranked by
option likelihood (:mod:`harness.eval.likelihood`) and its correctness, the judge's
total and criteria, and the judge's identity. Capability score = mean judge total over the
capability's items in a setting (missing verdicts are left out and counted, never
read as 0); Avg = plain mean of the capability scores (facts §3/§4).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Sequence

import pandas as pd

from harness.data.blank import TEXT_ONLY
from harness.data.options import answer_letter, yes_no
from harness.data.types import CAPABILITIES, EvalItem
from harness.eval.judges.base import JudgeScore
from harness.eval.likelihood import Ranked
from harness.eval.scoring import parse_mcq, parse_yes_no

COLUMNS = ("run", "model", "item_id", "task", "capability", "kind", "tag", "setting", "pred_official",
           "pred_strict", "correct_official", "correct_strict", "pred_ranked", "correct_ranked", "judge_total",
           "judge_criteria", "judge_id", "frame_token", "scene_token")
CLOSED_KINDS = ("mcq", "yes_no")
CLEAN = "clean"


def _closed_readings(item: EvalItem, prediction: str) -> tuple[Any, Any, Any, Any]:
    """(pred_official, pred_strict, correct_official, correct_strict); all None for open items.

    Yes/no items use the one yes/no parser in both columns (DriveBench's official
    scorer skips them; the harness scores them).
    """
    if item.kind == "mcq":
        official, strict = parse_mcq(prediction, "official"), parse_mcq(prediction, "strict", item.options)
        truth = answer_letter(item.answer)
    elif item.kind == "yes_no":
        official = strict = parse_yes_no(prediction)
        truth = yes_no(item.answer)
    else:
        return None, None, None, None
    if truth is None:
        return official, strict, None, None
    return official, strict, official == truth, strict == truth


def _truth(item: EvalItem) -> str | None:
    if item.kind == "mcq":
        return answer_letter(item.answer)
    return yes_no(item.answer) if item.kind == "yes_no" else None


def _ranked_reading(item: EvalItem, ranked: Ranked | None) -> tuple[Any, Any]:
    """(pred_ranked, correct_ranked): the most likely option and whether it is the reference's."""
    if ranked is None or item.kind not in CLOSED_KINDS:
        return None, None
    truth = _truth(item)
    return ranked.choice, (None if truth is None else ranked.choice == truth)


def score_rows(run: str, model: str, items: Sequence[EvalItem], predictions: Sequence[str],
               verdicts: Sequence[JudgeScore], ranked: Sequence[Ranked | None] | None = None) -> list[dict[str, Any]]:
    """One row per item; ``ranked`` (from :func:`harness.eval.likelihood.rank_closed`) fills the ranked columns."""
    rows = []
    ranked = list(ranked) if ranked is not None else [None] * len(items)
    for item, prediction, verdict, choice in zip(items, predictions, verdicts, ranked, strict=True):
        official, strict, ok_official, ok_strict = _closed_readings(item, prediction)
        pred_ranked, ok_ranked = _ranked_reading(item, choice)
        rows.append({
            "run": run, "model": model, "item_id": item.id, "task": item.question_type,
            "capability": item.capability, "kind": item.kind, "tag": int(item.tag), "setting": item.setting,
            "pred_official": official, "pred_strict": strict,
            "correct_official": ok_official, "correct_strict": ok_strict,
            "pred_ranked": pred_ranked, "correct_ranked": ok_ranked,
            "judge_total": math.nan if verdict.total is None else float(verdict.total),
            "judge_criteria": json.dumps(verdict.criteria, sort_keys=True),
            "judge_id": verdict.judge_id,
            # the clusters the report resamples (questions of one frame share its difficulty)
            "frame_token": item.frame_token, "scene_token": item.scene_token,
        })
    return rows


def scores_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    frame["tag"] = frame["tag"].astype("int64")
    frame["judge_total"] = frame["judge_total"].astype("float64")
    for col in ("correct_official", "correct_strict", "correct_ranked"):
        frame[col] = frame[col].astype("boolean")
    for col in ("pred_official", "pred_strict", "pred_ranked"):  # None stays None (pandas would make it NaN)
        frame[col] = pd.Series([v if isinstance(v, str) else None for v in frame[col]], dtype=object, index=frame.index)
    return frame


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan


def _accuracy(frame: pd.DataFrame, kind: str | tuple[str, ...], column: str) -> float:
    kinds = (kind,) if isinstance(kind, str) else kind
    part = frame[frame["kind"].isin(kinds) & frame[column].notna()]
    return float(part[column].astype(bool).mean()) if len(part) else math.nan


def setting_summary(frame: pd.DataFrame) -> dict[str, float | int]:
    """Capability scores, Avg, accuracies and counts for one setting's rows."""
    out: dict[str, float | int] = {}
    for capability in CAPABILITIES:
        out[capability] = _mean(frame.loc[frame["capability"] == capability, "judge_total"])
    present = [out[c] for c in CAPABILITIES if not math.isnan(out[c])]
    out["avg"] = sum(present) / len(present) if present else math.nan
    out["mcq_acc_official"] = _accuracy(frame, "mcq", "correct_official")
    out["mcq_acc_strict"] = _accuracy(frame, "mcq", "correct_strict")
    out["yes_no_acc"] = _accuracy(frame, "yes_no", "correct_strict")
    # every closed item (MCQ and yes/no): the strict parser's reading of the generated text, and the
    # option the model finds most likely
    out["closed_acc_parsed"] = _accuracy(frame, CLOSED_KINDS, "correct_strict")
    out["closed_acc_ranked"] = _accuracy(frame, CLOSED_KINDS, "correct_ranked")
    out["n_items"] = int(len(frame))
    out["n_missing"] = int(frame["judge_total"].isna().sum())
    return out


def summarize(frame: pd.DataFrame, judge_id: str, efficiency: dict[str, Any]) -> dict[str, Any]:
    """summary.json: per-setting scores, the text-only gap, the corruption mean, efficiency."""
    settings = {s: setting_summary(frame[frame["setting"] == s]) for s in dict.fromkeys(frame["setting"])}
    summary: dict[str, Any] = {"judge_id": judge_id, "settings": settings, "efficiency": efficiency}
    if CLEAN in settings and TEXT_ONLY in settings:
        summary["text_only_gap"] = settings[CLEAN]["avg"] - settings[TEXT_ONLY]["avg"]
    corrupted = [v["avg"] for s, v in settings.items() if s not in (CLEAN, TEXT_ONLY)]
    if corrupted:
        summary["corruption_mean"] = sum(corrupted) / len(corrupted)
    return summary


def flat_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The flat dict run.json's summary["eval"] holds (clean setting, or the first one evaluated)."""
    settings = summary["settings"]
    main = settings.get(CLEAN) or next(iter(settings.values()))
    eff = summary.get("efficiency", {})
    out: dict[str, Any] = {
        "setting": CLEAN if CLEAN in settings else next(iter(settings)),
        "avg": main["avg"], "perception": main["perception"], "reasoning": main["reasoning"],
        "planning": main["planning"], "mcq_acc_strict": main["mcq_acc_strict"],
        "mcq_acc_official": main["mcq_acc_official"], "closed_acc_parsed": main["closed_acc_parsed"],
        "closed_acc_ranked": main["closed_acc_ranked"], "n_items": main["n_items"],
        "n_missing": sum(v["n_missing"] for v in settings.values()), "judge_id": summary["judge_id"],
    }
    for key in ("text_only_gap", "corruption_mean"):
        if key in summary:
            out[key] = summary[key]
    for key in ("tokens_per_second", "peak_memory_mb", "first_token_latency_s"):
        out[key] = eff.get(key)
    return json_safe(out)


def json_safe(value: Any) -> Any:
    """NaN/inf → None, recursively (summary files are strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
