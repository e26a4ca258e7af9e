"""How much each distillation objective steers the update: its gradient norm as a share of CE's.

A distillation loss whose gradient is a hundredth of the CE gradient barely moves
the student, whatever its weight in the recipe says. The trainer logs each
objective's gradient norm in metrics.jsonl (``combine.grad_norms``: read off the
Gramian at every log step for combiners that form one; for ``sum`` at the steps
``train.grad_norms_every`` names). Norms are of the losses as weighted and mixed,
so the share is ‖∇(w_k L_k)‖ / ‖∇(w_ce L_ce)‖: what each objective contributes to
the update before the combiner. Summarised per run over its logged steps
(median, min, max).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tabulate import tabulate

from harness.report.collect import Collected
from harness.rundir import RunDir

CE = "ce"


def share_series(records: Iterable[dict]) -> dict[str, list[float]]:
    """objective → its norm ÷ CE's norm at every logged step that has both (CE itself left out)."""
    out: dict[str, list[float]] = {}
    for record in records:
        norms = (record.get("combine") or {}).get("grad_norms")
        if not isinstance(norms, dict):
            continue
        ce = norms.get(CE)
        if not isinstance(ce, (int, float)) or not math.isfinite(ce) or ce <= 0:
            continue
        for name, value in norms.items():
            if name != CE and isinstance(value, (int, float)) and math.isfinite(value):
                out.setdefault(name, []).append(float(value) / float(ce))
    return out


def summarise_shares(records: Iterable[dict]) -> dict[str, dict[str, float]]:
    """objective → {median, min, max, n} of its share of CE's gradient norm."""
    return {name: {"median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v)), "n": len(v)}
            for name, v in share_series(records).items()}


def gradient_share_rows(collected: Collected, label: str = "method") -> list[dict]:
    """One row per run that logged gradient norms: its label (a dotted run field), family and shares."""
    rows = []
    for run_id, path in zip(collected.runs["run_id"], collected.runs["run_path"]):
        shares = summarise_shares(RunDir(Path(path)).metrics())
        if shares:
            rows.append({"run_id": run_id, "system": collected.value_of(run_id, label) or run_id,
                         "family": collected.value_of(run_id, "student.family"),
                         "combiner": collected.value_of(run_id, "combiner.name"), "shares": shares})
    return rows


def render_gradient_shares_markdown(rows: Sequence[dict]) -> str:
    """A Markdown table: per run and objective, the median share of CE's gradient norm [min, max]."""
    body = []
    for row in rows:
        for name, s in sorted(row["shares"].items()):
            body.append([row["system"], row["family"] or "—", row["combiner"] or "—", name,
                         f"{s['median']:.3g} [{s['min']:.3g}, {s['max']:.3g}]", s["n"], row["run_id"]])
    headers = ["system", "family", "combiner", "objective", "share of CE's gradient norm: median [min, max]",
               "steps", "run"]
    return tabulate(body, headers=headers, tablefmt="github") + "\n"
