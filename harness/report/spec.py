"""What a table is asked to show, and the schema of an ablation file's ``table:`` section.

The ablation file is owned by the sweep (harness/sweep/ablation.py parses it in
full, building every variant's recipe). The report needs only the study ``name``,
its ``objective``, its variants' order and its ``table:`` section, so
:func:`read_ablation` reads those without building anything (a report of old runs
works even if their base recipe moved). Both read the file with the recipe loader
(:func:`harness.recipe.loader.read_yaml`) and check ``table:`` with one schema,
:class:`TableSection`, through :func:`table_section`: a mistake in it is the same
one-line error, naming the file and field, from ``harness sweep`` and ``harness report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import HarnessError, RecipeError
from harness.recipe.loader import read_yaml
from harness.recipe.messages import recipe_error
from harness.registry import did_you_mean

TABLE_KINDS = ("table1", "table2", "table3", "settings")
SCORE_METRICS = ("perception", "reasoning", "planning", "avg")
ACCURACY_METRICS = ("mcq_acc_strict", "mcq_acc_official", "closed_acc_parsed", "closed_acc_ranked")
# accuracy metric → (items it is over: MCQ or every closed item, the scores column it averages)
ACCURACY_SOURCES = {
    "mcq_acc_strict": ("mcq", "correct_strict"), "mcq_acc_official": ("mcq", "correct_official"),
    "closed_acc_parsed": ("closed", "correct_strict"), "closed_acc_ranked": ("closed", "correct_ranked"),
}
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
    "closed_acc_parsed": "Closed acc. (parsed)", "closed_acc_ranked": "Closed acc. (ranked)",
    "peak_memory_mb": "Memory (MB)", "tokens_per_second": "Tokens/s", "first_token_latency_s": "First token (s)",
}


class ReportSpecError(HarnessError):
    """A report option is malformed."""


def _listed(value: Any) -> Any:
    """A comma-separated string is a list (``metrics: avg``, ``settings: clean,fog``)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class TableSection(BaseModel):
    """An ablation file's ``table:`` section: the table `harness report` draws from the study's runs."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    kind: Literal["table1", "table2", "table3", "settings"] = Field(
        "table3", description="which paper table's layout; settings: one row per evaluation setting")
    rows: str = Field("", description="'variant' or a dotted recipe path naming each row (default: variant; "
                                      "setting for kind settings)")
    columns: list[str] = Field([], description="dotted recipe paths that make the column groups (table1/table2)")
    baseline: Optional[str] = Field(None, description="row every other row is tested against")
    metrics: list[str] = Field([], description="summary metrics shown (default: the table kind's own)")
    caption: str = Field("", description="free text")
    setting: str = Field("clean", description="which evaluation setting the table shows")
    settings: list[str] = Field([], description="kind settings: the settings shown as rows (default: all)")

    @field_validator("columns", "metrics", "settings", mode="before")
    @classmethod
    def _comma_lists(cls, value: Any) -> Any:
        return _listed(value)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        for metric in value:
            if metric not in ALL_METRICS:
                raise ValueError(f"'{metric}' is not a metric{did_you_mean(metric, ALL_METRICS)} "
                                 f"(known: {', '.join(ALL_METRICS)})")
        return value


def table_section(data: dict[str, Any], file: str | Path) -> TableSection | None:
    """The checked ``table:`` section of an ablation file's data (None when it has none).

    The one check of that section, for the sweep and the report alike: any mistake
    is a one-line :class:`~harness.errors.RecipeError` naming the file and the field.
    """
    if data.get("table") is None:
        return None
    try:
        return TableSection.model_validate(data["table"])
    except ValidationError as exc:
        error = recipe_error(TableSection, exc, str(file))
        raise RecipeError(error.detail, file=str(file), field=".".join(p for p in ("table", error.field) if p)) from None


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
    """Study name, objective, variants' order and table section of an ablation YAML file."""
    path = Path(path)
    data = read_yaml(path)
    name = data.get("name", path.stem)  # as the sweep names the study
    if not isinstance(name, str):
        raise RecipeError("the study name must be a string", file=str(path), field="name")
    section = table_section(data, path) or TableSection()
    variants = data.get("variants")
    try:
        spec = TableSpec(
            name=name, kind=section.kind, rows=section.rows, columns=tuple(section.columns),
            baseline=section.baseline, metrics=tuple(section.metrics), caption=section.caption,
            setting=section.setting, order=tuple(str(v) for v in variants) if isinstance(variants, dict) else (),
            settings=tuple(section.settings),
        )
    except ReportSpecError as exc:  # pragma: no cover - the section's schema already refused it
        raise RecipeError(str(exc), file=str(path), field="table") from None
    objective = data.get("objective") or {}
    return Ablation(path=path, name=name, description=str(data.get("description") or ""),
                    table=spec, objective=objective if isinstance(objective, dict) else {})
