"""One evaluation: generate per setting, rank closed options by likelihood, judge, aggregate, write the files.

Shared by ``harness run`` (the trained student, into ``<run>/eval``) and
``harness eval`` (any model, into ``results/evals/…``); the paths are the
:class:`~harness.rundir.RunDir`'s. Files are written whole and
atomically once a setting is done, so a reader never sees a half-written one.
"""

from __future__ import annotations

import io
import json
from typing import Any, Sequence

from harness.devices import model_device
from harness.errors import HarnessError
from harness.eval.aggregate import json_safe, score_rows, scores_frame, summarize
from harness.eval.efficiency import EfficiencyMeter, MemoryProbe, device_name
from harness.eval.generate import generate_answers
from harness.eval.judges.base import Judge
from harness.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from harness.eval.likelihood import rank_closed
from harness.registry import did_you_mean
from harness.rundir import RunDir


def check_settings(dataset, settings: Sequence[str], *, dataset_name: str) -> list[str]:
    known = list(dataset.settings())
    if not settings:
        raise HarnessError(f"no evaluation setting given (dataset '{dataset_name}' offers: {', '.join(known)})")
    for setting in settings:
        if setting not in known:
            raise HarnessError(f"dataset '{dataset_name}' has no setting '{setting}'{did_you_mean(setting, known)} "
                               f"(known: {', '.join(known)})")
    return list(dict.fromkeys(settings))


def _prediction_lines(items, generations, ranked) -> str:
    lines = []
    for item, gen, rank in zip(items, generations, ranked, strict=True):
        extra = {} if rank is None else {"ranked": rank.choice, "option_log_probs": rank.log_probs}
        lines.append(json.dumps({
            "item_id": item.id, "setting": item.setting, "prompt": gen.prompt, "prediction": gen.prediction,
            "seconds": gen.seconds, "first_token_s": gen.first_token_s, "n_new_tokens": gen.n_new_tokens,
            "batch": gen.batch, "task": item.question_type, "tag": item.tag, "kind": item.kind,
            "capability": item.capability, "reference": item.answer, "cameras": list(item.cameras), **extra,
        }, ensure_ascii=False, sort_keys=True))
    return "\n".join(lines) + ("\n" if lines else "")


def load_settings(dataset, settings: Sequence[str], *, dataset_name: str = "dataset",
                  max_items: int | None = None) -> dict[str, list]:
    """Every setting's items (first ``max_items``), loaded and validated before any generation."""
    per_setting = {}
    for setting in check_settings(dataset, settings, dataset_name=dataset_name):
        items = list(dataset.eval_items(setting))
        per_setting[setting] = items[:max_items] if max_items is not None else items
    if not any(per_setting.values()):
        raise HarnessError(f"dataset '{dataset_name}' has no evaluation items in {', '.join(per_setting)}")
    return per_setting


def run_evaluation(loaded, per_setting: dict[str, list], judge: Judge, *, run: RunDir,
                   batch_size: int = 8, max_new_tokens: int = 64, brief: str = "",
                   progress: bool = True) -> dict[str, Any]:
    """Evaluate ``loaded`` on each setting's items into ``run``'s ``eval/``: predictions, scores, summary."""
    device = model_device(loaded.model)
    memory = MemoryProbe(device)
    meter = EfficiencyMeter(device=device_name(device), batch_size=batch_size)
    rows = []
    bar = _progress(sum(len(v) for v in per_setting.values()), progress, loaded.name)
    try:
        for setting, items in per_setting.items():
            if not items:
                continue
            generations = generate_answers(loaded, items, brief=brief, batch_size=batch_size,
                                           max_new_tokens=max_new_tokens, meter=meter, memory=memory,
                                           on_batch=bar.update if bar is not None else None)
            ranked = rank_closed(loaded, items, brief=brief, batch_size=batch_size)
            atomic_write_text(run.predictions_file(setting), _prediction_lines(items, generations, ranked))
            predictions = [g.prediction for g in generations]
            verdicts = judge.score_many(items, predictions)
            rows.extend(score_rows(run.path.name, loaded.name, items, predictions, verdicts, ranked))
    finally:
        if bar is not None:
            bar.close()
    frame = scores_frame(rows)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(run.scores_file, buffer.getvalue())
    summary = json_safe(summarize(frame, judge.judge_id, meter.summary(memory.peak_mb())))
    atomic_write_json(run.summary_file, summary)
    return summary


def _progress(total: int, enabled: bool, name: str):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"eval {name}", unit="item", leave=False)
