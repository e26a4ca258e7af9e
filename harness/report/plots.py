"""Figures of a report, each written as PNG and PDF.

- capability scores with their intervals, per system (from a built table);
- gradient-conflict cosines over training (from each run's metrics.jsonl: the
  trainer logs ``combine.cosine`` per step when the combiner computes a Gramian);
- a sweep's objective history (trial number → objective, and the best so far).

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot global
state), so reports can be written from threads or notebooks without a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from harness.data.types import CAPABILITIES
from harness.report.collect import Collected, run_field
from harness.rundir import read_jsonl

FIGURE_FORMATS = ("png", "pdf")


def _save(fig: Figure, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in FIGURE_FORMATS:
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=150)
        paths.append(path)
    return paths


def plot_capabilities(table, stem: Path) -> list[Path]:
    """Grouped bars: one group per capability (and Avg.), one bar per system, interval whiskers."""
    metrics = [m for m in (*CAPABILITIES, "avg") if m in table.metrics]
    systems = [(r, g) for g in table.groups for r in table.rows
               if any((r, g, m) in table.cells for m in metrics)]
    if not metrics or not systems:
        return []
    fig = Figure(figsize=(max(6.0, 1.2 * len(metrics) * max(1, len(systems)) / 2), 4.0), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(systems)
    x = np.arange(len(metrics))
    for i, (row, group) in enumerate(systems):
        cells = [table.cell(row, group, m) for m in metrics]
        values = np.array([c.value if c else math.nan for c in cells])
        low = np.array([c.value - c.ci_low if c and math.isfinite(c.ci_low) else 0.0 for c in cells])
        high = np.array([c.ci_high - c.value if c and math.isfinite(c.ci_high) else 0.0 for c in cells])
        name = f"{row} ({group})" if group else row
        ax.bar(x + (i - (len(systems) - 1) / 2) * width, values, width, yerr=np.vstack([low, high]),
               capsize=3, label=name)
    ax.set_xticks(x, ["Avg." if m == "avg" else m.capitalize() for m in metrics])
    ax.set_ylabel(f"judge score (0–100), {int(round(table.options.confidence * 100))}% interval")
    from harness.report.render import setting_words

    ax.set_title(f"{table.spec.name}: capability scores ({setting_words(table)})")
    ax.legend(fontsize="small", ncols=min(3, len(systems)))
    return _save(fig, stem)


def conflict_series(records: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """``"a·b" → (steps, cosines)`` for every objective pair logged in metrics.jsonl (undefined ones skipped)."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        cosine = (record.get("combine") or {}).get("cosine")
        step = record.get("step")
        if not isinstance(cosine, dict) or step is None:
            continue
        names = list(cosine)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                value = (cosine.get(a) or {}).get(b)
                if value is None:
                    continue
                steps, values = series.setdefault(f"{a}·{b}", ([], []))
                steps.append(int(step))
                values.append(float(value))
    return series


def plot_conflicts(collected: Collected, stem: Path, max_runs: int = 6) -> list[Path]:
    """Pairwise gradient cosines over training, one panel per run (runs without cosines are left out)."""
    panels = []
    for run_id, path in zip(collected.runs["run_id"], collected.runs["run_path"]):
        series = conflict_series(read_jsonl(Path(path) / "metrics.jsonl"))
        if series:
            panels.append((run_id, series))
    if not panels:
        return []
    panels = panels[:max_runs]
    fig = Figure(figsize=(6.0, 2.6 * len(panels)), layout="constrained")
    for index, (run_id, series) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, index + 1)
        for pair, (steps, values) in sorted(series.items()):
            ax.plot(steps, values, label=pair, linewidth=1)
        ax.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel("cosine")
        ax.set_title(run_id, fontsize="small")
        ax.legend(fontsize="x-small", ncols=3)
    ax.set_xlabel("optimizer step")
    fig.suptitle("Gradient cosines between objectives (below 0 = conflict)")
    return _save(fig, stem)


def objective_history(collected: Collected, metric: str) -> list[tuple[int, float]]:
    """(trial, objective) of every trial run, sorted by trial; ``metric`` is a dotted path into run.json summary."""
    points = []
    for run_id in collected.runs["run_id"]:
        info = collected.infos.get(run_id, {})
        trial = info.get("trial")
        value = run_field(info.get("summary") or {}, {}, metric)
        if trial is None or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            continue
        points.append((int(trial), float(value)))
    return sorted(points)


def plot_objective_history(collected: Collected, stem: Path, metric: str = "eval.avg",
                           direction: str = "maximize") -> list[Path]:
    """Each trial's objective and the best so far, in trial order."""
    points = objective_history(collected, metric)
    if not points:
        return []
    trials = np.array([t for t, _ in points])
    values = np.array([v for _, v in points])
    best = np.maximum.accumulate(values) if direction == "maximize" else np.minimum.accumulate(values)
    fig = Figure(figsize=(6.0, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(trials, values, s=18, label="trial")
    ax.step(trials, best, where="post", color="black", linewidth=1.2, label=f"best so far ({direction})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title("Sweep objective history")
    ax.legend(fontsize="small")
    return _save(fig, stem)
