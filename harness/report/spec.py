"""What a table is asked to show, and the few fields of an ablation file the report reads.

The ablation file is owned by the sweep (harness/sweep/ablation.py parses it in
full). The report needs only the study ``name``, its ``objective`` and its
``table:`` section, so it reads those itself with :func:`read_ablation` — a small,
strict reader that names the file and field of any mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.registry import did_you_mean

TABLE_KINDS = ("table1", "table2", "table3", "settings")
SCORE_METRICS = ("perception", "reasoning", "planning", "avg")
ACCURACY_METRICS = ("mcq_acc_strict", "mcq_acc_official")
# efficiency metric → which direction is better
EFFICIENCY_METRICS = {"peak_memory_mb": "min", "tokens_per_second": "max", "first_token_latency_s": "min"}
ALL_METRICS = (*SCORE_METRICS, *ACCURACY_METRICS, *EFFICIENCY_METRICS)
DEFAULT_METRICS = {
    "table1": (*SCORE_METRICS, *EFFICIENCY_METRICS),
    "table2": ("avg",),
    "table3": SCORE_METRICS,
    "settings": (*SCORE_METRICS, "mcq_acc_strict"),
}
# a kind's row field when none is given (any other kind: "variant")
DEFAULT_ROWS = {"settings": "setting"}
METRIC_TITLES = {
    "perception": "Perception", "reasoning": "Reasoning", "planning": "Planning", "avg": "Avg.",
    "mcq_acc_strict": "MCQ acc. (strict)", "mcq_acc_official": "MCQ acc. (official)",
    "peak_memory_mb": "Memory (MB)", "tokens_per_second": "Tokens/s", "first_token_latency_s": "First token (s)",
}


class ReportSpecError(HarnessError):
    """An ablation file's table section or a report option is malformed."""


@dataclass(frozen=True)
class TableSpec:
    """One table: how runs become rows and column groups, which metrics, which baseline."""

    name: str
    kind: str = "table3"
    rows: str = ""  # "variant" or a dotted run/recipe path; "" → the kind's default (DEFAULT_ROWS, else variant)
    columns: tuple[str, ...] = ()  # dotted paths whose values make column groups
    baseline: str | None = None  # a row label every other row of its group is tested against
    metrics: tuple[str, ...] = ()
    caption: str = ""
    setting: str = "clean"
    order: tuple[str, ...] = ()  # preferred row order (an ablation's variants, in file order)
    settings: tuple[str, ...] = ()  # kind "settings": the settings shown side by side (() → all present)

    def __post_init__(self):
        if self.kind not in TABLE_KINDS:
            raise ReportSpecError(f"table kind {self.kind!r} is not one of {', '.join(TABLE_KINDS)}"
                                  + did_you_mean(self.kind, TABLE_KINDS))
        if not self.metrics:
            object.__setattr__(self, "metrics", DEFAULT_METRICS[self.kind])
        if not self.rows:
            object.__setattr__(self, "rows", DEFAULT_ROWS.get(self.kind, "variant"))
        for metric in self.metrics:
            if metric not in ALL_METRICS:
                raise ReportSpecError(f"table metric {metric!r} is unknown; known: {', '.join(ALL_METRICS)}"
                                      + did_you_mean(metric, ALL_METRICS))


#: What a table's bootstrap resamples: DriveBench frames (default), scenes, or single items.
CLUSTER_UNITS = ("frame_token", "scene_token", "item")
UNIT_WORDS = {"frame_token": "frames", "scene_token": "scenes", "item": "items"}


@dataclass(frozen=True)
class StatsOptions:
    """How significance is decided for every comparison of a table."""

    alpha: float = 0.05
    correction: str = "holm"  # holm | bh | none
    n_resamples: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    cluster: str = "frame_token"  # the resampled unit: frame_token | scene_token | item (see CLUSTER_UNITS)
    power: float = 0.8  # the power at which a table states its minimum detectable effect

    def __post_init__(self):
        from harness.report.stats import CORRECTIONS

        if self.cluster not in CLUSTER_UNITS:
            raise ReportSpecError(f"cluster {self.cluster!r} is not one of {', '.join(CLUSTER_UNITS)}"
                                  + did_you_mean(self.cluster, CLUSTER_UNITS))
        if not 0.0 < self.power < 1.0:
            raise ReportSpecError(f"power must lie in (0, 1), got {self.power}")

        if self.correction not in CORRECTIONS:
            raise ReportSpecError(f"correction {self.correction!r} is not one of {', '.join(CORRECTIONS)}"
                                  + did_you_mean(self.correction, CORRECTIONS))
        if not 0.0 < self.alpha < 1.0:
            raise ReportSpecError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.n_resamples < 100:
            raise ReportSpecError(f"n_resamples must be at least 100, got {self.n_resamples}")


@dataclass(frozen=True)
class Ablation:
    """The parts of an ablation file the report uses."""

    path: Path
    name: str
    description: str
    table: TableSpec
    objective: dict[str, Any] = field(default_factory=dict)


def read_ablation(path: str | Path) -> Ablation:
    """Study name, objective and table section of an ablation YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportSpecError(f"{path}: no such ablation file") from None
    except yaml.YAMLError as exc:
        raise ReportSpecError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ReportSpecError(f"{path}: name: an ablation file needs a study name")
    table = data.get("table") or {}
    if not isinstance(table, dict):
        raise ReportSpecError(f"{path}: table: expected a mapping, got {type(table).__name__}")
    known = {"kind", "rows", "columns", "baseline", "metrics", "caption", "setting", "settings"}
    for key in table:
        if key not in known:
            raise ReportSpecError(f"{path}: table.{key}: unknown field; known: {', '.join(sorted(known))}"
                                  + did_you_mean(str(key), sorted(known)))
    columns = table.get("columns") or ()
    if isinstance(columns, str):
        columns = (columns,)
    metrics = table.get("metrics") or ()
    if isinstance(metrics, str):
        metrics = (metrics,)
    settings = table.get("settings") or ()
    if isinstance(settings, str):
        settings = tuple(s.strip() for s in settings.split(","))
    try:
        spec = TableSpec(
            name=data["name"],
            kind=str(table.get("kind", "table3")),
            rows=str(table.get("rows") or ""),
            columns=tuple(str(c) for c in columns),
            baseline=None if table.get("baseline") is None else str(table["baseline"]),
            metrics=tuple(str(m) for m in metrics),
            caption=str(table.get("caption") or ""),
            setting=str(table.get("setting", "clean")),
            order=tuple(str(v) for v in (data.get("variants") or {})) if isinstance(data.get("variants"), dict) else (),
            settings=tuple(str(s) for s in settings if str(s).strip()),
        )
    except ReportSpecError as exc:
        raise ReportSpecError(f"{path}: table: {exc}") from None
    objective = data.get("objective") or {}
    return Ablation(path=path, name=data["name"], description=str(data.get("description") or ""),
                    table=spec, objective=objective if isinstance(objective, dict) else {})
