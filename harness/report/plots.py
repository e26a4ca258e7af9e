"""Figures of a report, each written as PNG and PDF.

- capability scores with their intervals, per system, one panel per column group
  (a family) with one colour per row that no other row shares (from a built table);
- a forest plot per table: each system's difference from its baseline with its
  interval, per column group, significant ones filled (what to read before the table);
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
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from harness.data.types import CAPABILITIES
from harness.report.collect import Collected, run_field
from harness.rundir import RunDir

FIGURE_FORMATS = ("png", "pdf")


def _save(fig: Figure, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in FIGURE_FORMATS:
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=150)
        paths.append(path)
    return paths


# Panels are at most this wide (inches) and figures are saved at 150 dpi: a readable page width.
MAX_WIDTH = 10.0


def _palette(n: int) -> list:
    """``n`` distinct colours: tab10 up to 10, tab20 up to 20, then evenly spaced hues."""
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["hsv"](i / n) for i in range(n)]


def _groups(table) -> list[str]:
    return list(table.groups) if table.groups else [""]


def plot_capabilities(table, stem: Path) -> list[Path]:
    """Grouped bars per column group (a family): one group of bars per capability (and Avg.), one bar
    per row with its interval; a row keeps its colour in every panel, and no two rows share one."""
    metrics = [m for m in (*CAPABILITIES, "avg") if m in table.metrics]
    groups = [g for g in _groups(table) if any((r, g, m) in table.cells for r in table.rows for m in metrics)]
    rows = [r for r in table.rows if any((r, g, m) in table.cells for g in groups for m in metrics)]
    if not metrics or not rows:
        return []
    colour = dict(zip(rows, _palette(len(rows))))
    per_panel = max(len([r for r in rows if any((r, g, m) in table.cells for m in metrics)]) for g in groups)
    width = min(MAX_WIDTH, max(6.0, 1.5 + 0.28 * len(metrics) * per_panel))
    fig = Figure(figsize=(width, 0.6 + 2.8 * len(groups)), layout="constrained")
    axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
    x = np.arange(len(metrics))
    for ax, group in zip(axes, groups):
        present = [r for r in rows if any((r, group, m) in table.cells for m in metrics)]
        bar = 0.8 / max(1, len(present))
        for i, row in enumerate(present):
            cells = [table.cell(row, group, m) for m in metrics]
            values = np.array([c.value if c else math.nan for c in cells])
            low = np.array([c.value - c.ci_low if c and math.isfinite(c.ci_low) else 0.0 for c in cells])
            high = np.array([c.ci_high - c.value if c and math.isfinite(c.ci_high) else 0.0 for c in cells])
            ax.bar(x + (i - (len(present) - 1) / 2) * bar, values, bar, yerr=np.vstack([low, high]), capsize=2,
                   color=colour[row], label=row, error_kw={"linewidth": 0.8})
        ax.set_xticks(x, ["Avg." if m == "avg" else m.capitalize() for m in metrics])
        ax.set_ylabel("judge score (0–100)")
        if group:
            ax.set_title(group, fontsize="medium")
    from harness.report.render import setting_words

    level = int(round(table.options.confidence * 100))
    fig.suptitle(f"{table.spec.name}: capability scores, {level}% intervals ({setting_words(table)})")
    handles = [Patch(color=colour[r], label=r) for r in rows]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(rows)), fontsize="small")
    return _save(fig, stem)


def plot_forest(table, stem: Path) -> list[Path]:
    """Each system's difference from its group's baseline with its interval, one panel per group.

    One row per system, one marker per metric (offset within the row, coloured by
    metric); filled when significant after the table's correction, hollow otherwise; a
    dashed line at 0. MCQ accuracy is drawn in percentage points so every difference
    shares the 0–100 point scale. Nothing to draw (no baseline or no comparison): no figure.
    """
    from matplotlib.lines import Line2D

    from harness.report.spec import ACCURACY_METRICS, METRIC_TITLES

    metrics = [m for m in table.metrics if m in (*CAPABILITIES, "avg", *ACCURACY_METRICS)]
    panels = []
    for group in _groups(table):
        tested = {(r, m): table.cells[(r, group, m)] for r in table.rows for m in metrics
                  if (r, group, m) in table.cells and table.cells[(r, group, m)].test
                  and math.isfinite(table.cells[(r, group, m)].diff)}
        rows = [r for r in table.rows if any((r, m) in tested for m in metrics)]
        if rows:
            panels.append((group, rows, tested))
    if not panels:
        return []
    shown = [m for m in metrics if any((r, m) in t for _, rows, t in panels for r in rows)]
    colour = dict(zip(shown, _palette(len(shown))))
    offset = {m: (i - (len(shown) - 1) / 2) * 0.7 / max(1, len(shown)) for i, m in enumerate(shown)}
    heights = [0.6 + 0.45 * len(rows) for _, rows, _ in panels]
    fig = Figure(figsize=(7.0, 1.2 + sum(heights)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (group, rows, tested) in zip(axes, panels):
        for y, row in enumerate(rows):
            for metric in shown:
                cell = tested.get((row, metric))
                if cell is None:
                    continue
                scale = 100.0 if metric in ACCURACY_METRICS else 1.0
                lo, hi = scale * (cell.diff - cell.diff_low), scale * (cell.diff_high - cell.diff)
                ax.errorbar(scale * cell.diff, y + offset[metric], xerr=[[max(lo, 0.0)], [max(hi, 0.0)]], fmt="o",
                            capsize=2, color=colour[metric], markersize=5, linewidth=1,
                            markerfacecolor=colour[metric] if cell.significant else "white")
        ax.axvline(0.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(rows)), rows, fontsize="small")
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_title(f"{group + ': ' if group else ''}difference from {table.baseline}", fontsize="medium")
    level = int(round(table.options.confidence * 100))
    axes[-1].set_xlabel(f"difference in points, {level}% interval (filled: significant after the "
                        f"{table.options.correction} correction)")
    handles = [Line2D([], [], marker="o", linestyle="", color=colour[m], label=METRIC_TITLES[m]) for m in shown]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(5, len(shown)), fontsize="small")
    from harness.report.render import setting_words

    fig.suptitle(f"{table.spec.name}: differences from the baseline ({setting_words(table)})")
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
        series = conflict_series(RunDir(Path(path)).metrics())
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
