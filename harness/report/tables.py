"""Collected runs → a table of cells with intervals and significance against a baseline.

A *system* is one (row, column-group) of the table: every run whose row field and
group fields have the same values; its runs are its seeds. Each cell holds the
system's score with a bootstrap interval and, for non-baseline rows, the
comparison with the baseline row of the same group. Every comparison of the table
is corrected together (Holm by default). Rendering lives in render.py.

Guards, because a table that silently mixes things would mislead:

- scores of different judges never share a column (an error names the runs);
- a table shows one setting (clean by default), never a mix;
- when a system and its baseline were scored on different item sets, a warning
  says so and the comparison uses the items both have.

Resampling unit. Questions about one DriveBench frame are correlated, so every
bootstrap of a table resamples clusters (``frame_token`` by default,
``scene_token`` on request, seeds above them) with each cluster's items kept
together; all capabilities draw from one cluster universe with one seed, so a
frame's perception and planning questions are drawn together and Avg. sees their
covariance. Scores without the cluster column (runs evaluated before it was
written) fall back to items, and the caption says so. With clusters, MCQ
accuracy is tested by the cluster bootstrap too (McNemar assumes independent
pairs); with ``cluster: item`` it is exact McNemar.
"""


from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.data.types import CAPABILITIES
from harness.report import stats
from harness.report.collect import CLUSTER_COLUMNS, Collected, ReportInputError
from harness.report.power import minimum_detectable_effect
from harness.report.spec import (
    ACCURACY_METRICS,
    ACCURACY_SOURCES,
    EFFICIENCY_METRICS,
    SCORE_METRICS,
    StatsOptions,
    TableSpec,
)


class ItemSetWarning(UserWarning):
    """Two compared systems were scored on different item sets."""


@dataclass
class Cell:
    """One system × metric: its value, interval, and its comparison with the baseline."""

    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n_items: int = 0
    n_seeds: int = 0
    n_missing: int = 0
    diff: float = math.nan  # value − baseline on the common items
    diff_low: float = math.nan
    diff_high: float = math.nan
    effect_size: float = math.nan
    diff_se: float = math.nan  # standard error of the difference (sd of its bootstrap draws)
    p_value: float = math.nan
    p_adjusted: float = math.nan
    significant: bool = False
    test: str | None = None
    best: bool = False

    @property
    def direction(self) -> int:
        """+1 / −1 when significantly higher / lower than the baseline, else 0."""
        return significance_direction(self.significant, self.diff)


def significance_direction(significant: bool, diff: float) -> int:
    """+1 / −1 for a significant positive / negative difference, else 0 (findings.json's ``direction``)."""
    if not significant or not math.isfinite(diff) or diff == 0:
        return 0
    return 1 if diff > 0 else -1


@dataclass
class Table:
    """A rendered-ready table: row labels, column groups, metrics, cells and a caption."""

    spec: TableSpec
    options: StatsOptions
    rows: list[str]
    groups: list[str]
    metrics: list[str]
    cells: dict[tuple[str, str, str], Cell]
    baseline: str | None
    judge_id: str | None
    setting: str
    seeds: dict[tuple[str, str], int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)  # capability → items (max over systems)
    tests: list[str] = field(default_factory=list)
    n_comparisons: int = 0
    notes: list[str] = field(default_factory=list)
    caption: str = ""
    unit: str = "item"  # what the bootstraps resampled: frame_token | scene_token | item
    n_clusters: int = 0  # how many of them the table's items fall in
    unit_note: str = ""  # why the asked-for unit was not used, if it was not
    mde: dict[str, float] = field(default_factory=dict)  # metric → median minimum detectable effect

    def cell(self, row: str, group: str, metric: str) -> Cell | None:
        return self.cells.get((row, group, metric))

    def to_frame(self) -> pd.DataFrame:
        """One row per cell with every statistic (what the CSV output holds)."""
        records = []
        for (row, group, metric), c in self.cells.items():
            records.append({
                "table": self.spec.name, "row": row, "group": group, "metric": metric,
                "value": c.value, "ci_low": c.ci_low, "ci_high": c.ci_high, "n_items": c.n_items,
                "n_seeds": c.n_seeds, "n_missing": c.n_missing, "baseline": self.baseline,
                "diff": c.diff, "diff_ci_low": c.diff_low, "diff_ci_high": c.diff_high,
                "effect_size_dz": c.effect_size, "diff_se": c.diff_se, "p_value": c.p_value, "p_adjusted": c.p_adjusted,
                "significant": c.significant, "direction": c.direction, "test": c.test, "best": c.best,
                "judge_id": self.judge_id, "setting": self.setting,
                "correction": self.options.correction, "alpha": self.options.alpha, "unit": self.unit,
            })
        return pd.DataFrame.from_records(records)


def label(value: Any) -> str:
    """How a field value reads as a row or group label."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(label(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


@dataclass
class _System:
    row: str
    group: str
    runs: list[str]


def _systems(collected: Collected, spec: TableSpec) -> list[_System]:
    systems: dict[tuple[str, str], _System] = {}
    for run_id in collected.runs["run_id"]:
        value = collected.value_of(run_id, spec.rows)
        if value is None and spec.rows in ("variant", "method"):
            value = collected.value_of(run_id, "recipe_name")
        row = label(value)
        group = " / ".join(label(collected.value_of(run_id, c)) for c in spec.columns)
        systems.setdefault((row, group), _System(row, group, [])).runs.append(run_id)
    return list(systems.values())


def _check_judges(frame: pd.DataFrame) -> str | None:
    judges = frame["judge_id"].dropna().astype(str).unique().tolist()
    if len(judges) > 1:
        by_judge = {j: sorted(frame.loc[frame["judge_id"] == j, "run_id"].astype(str).unique())[:3] for j in judges}
        detail = "; ".join(f"{j}: {', '.join(r)}" for j, r in sorted(by_judge.items()))
        raise ReportInputError(
            f"refusing to put scores of different judges in one column ({detail}); "
            "report them separately or re-score with one judge")
    return judges[0] if judges else None


def _matrix(frame: pd.DataFrame, runs: list[str], value: str) -> pd.DataFrame:
    """(seeds × items) of ``value`` for these runs; raises on a duplicated item in a run."""
    sub = frame[frame["run_id"].isin(runs)]
    dup = sub.duplicated(["run_id", "item_id"])
    if dup.any():
        first = sub[dup].iloc[0]
        raise ReportInputError(f"run {first['run_id']}: item {first['item_id']!r} is scored twice in setting "
                               f"{first['setting']!r} (eval/scores.parquet)")
    values = sub[value].astype("Float64").to_numpy(dtype=float, na_value=np.nan)  # bool/None/NaN → 1/0/NaN
    sub = pd.DataFrame({"run_id": sub["run_id"].to_numpy(), "item_id": sub["item_id"].to_numpy(), "_v": values})
    return sub.pivot(index="run_id", columns="item_id", values="_v").reindex(runs).sort_index(axis=1)


_NEEDED = ("run_id", "item_id", "capability", "kind", "setting", "judge_total", "correct_strict", "correct_official",
           "correct_ranked")


def cluster_labels(frame: pd.DataFrame, unit: str) -> tuple[dict[str, str] | None, str]:
    """(item id → cluster label, why not) for the asked-for unit; None means resample items.

    Every item needs a non-empty label, and one item the same label in every run;
    otherwise the table resamples items and the reason is returned for its caption.
    """
    if unit == "item":
        return None, ""
    if unit not in frame.columns:
        return None, f"the scores carry no {unit} (evaluated before it was recorded)"
    labels = frame[["item_id", unit]].astype({unit: "string"})
    if labels[unit].isna().any() or (labels[unit].str.len() == 0).any():
        item = labels.loc[labels[unit].isna() | (labels[unit].fillna("").str.len() == 0), "item_id"].iloc[0]
        return None, f"item {item!r} has no {unit}"
    per_item = labels.drop_duplicates().groupby("item_id")[unit]
    if (per_item.nunique() > 1).any():
        item = per_item.nunique().idxmax()
        raise ReportInputError(f"item {item!r} has different {unit} values in different runs; "
                               "were the runs evaluated on different data?")
    return per_item.first().astype(str).to_dict(), ""


class _Parts:
    """The table's scores split once into capabilities (and MCQ items), with matrices cached.

    Every system's matrix is needed several times (its own cells, the batched draws,
    and as a baseline of every other row), and slicing the full frame each time was
    most of a table's build time. It also knows each item's cluster (see
    :func:`cluster_labels`) and the universe of clusters every draw uses.
    """

    def __init__(self, frame: pd.DataFrame, unit: str = "item"):
        narrow = frame[list(_NEEDED)]
        self.parts = {cap: narrow[narrow["capability"] == cap] for cap in CAPABILITIES}
        self.parts["mcq"] = narrow[narrow["kind"] == "mcq"]  # as summary.json: yes/no items are not MCQ
        self.parts["closed"] = narrow[narrow["kind"].isin(("mcq", "yes_no"))]
        self._cache: dict[tuple, pd.DataFrame] = {}
        self.cluster_of, self.unit_note = cluster_labels(frame, unit)
        self.unit = unit if self.cluster_of is not None else "item"
        self.universe = sorted(set(self.cluster_of.values())) if self.cluster_of is not None else None

    @property
    def clustered(self) -> bool:
        return self.cluster_of is not None

    def clusters(self, columns) -> np.ndarray | None:
        """Cluster labels of these item columns (None: items are the unit)."""
        if self.cluster_of is None:
            return None
        return np.array([self.cluster_of[c] for c in columns], dtype=object)

    def draw_args(self, columns) -> dict[str, Any]:
        """Keyword arguments that make a stats call resample this table's unit."""
        if self.cluster_of is None:
            return {}
        return {"clusters": self.clusters(columns), "universe": self.universe}

    def seed(self, opts: StatsOptions, index: int) -> int:
        """Capability ``index``'s bootstrap seed: one seed for all when clusters are drawn jointly."""
        return opts.seed if self.clustered else opts.seed + 7919 * index

    def matrix(self, part: str, runs: list[str], value: str = "judge_total") -> pd.DataFrame:
        key = (part, tuple(runs), value)
        if key not in self._cache:
            self._cache[key] = _matrix(self.parts[part], runs, value)
        return self._cache[key]


@dataclass
class _Draws:
    """Bootstrap draws for one system and metric: its own mean, and its difference from the baseline."""

    own: np.ndarray
    diff: np.ndarray | None
    observed_diff: float
    diffs_per_item: np.ndarray | None  # for the effect size
    n_items_common: int
    n_missing: int
    test: str | None


def _capability_draws(parts: _Parts, sys_m: pd.DataFrame, base_m: pd.DataFrame | None, opts: StatsOptions,
                      seed: int) -> _Draws:
    own_values = sys_m.to_numpy(dtype=float)
    own = _own_draws(own_values, opts, seed, parts.draw_args(sys_m.columns))
    if base_m is None:
        return _Draws(own, None, math.nan, None, 0, 0, None)
    common = sys_m.columns.intersection(base_m.columns)
    if len(common) == 0:  # nothing to pair with (a warning has said so)
        return _Draws(own, None, math.nan, None, 0, 0, None)
    a = sys_m[common].to_numpy(dtype=float)
    b = base_m[common].to_numpy(dtype=float)
    both = np.isfinite(a).any(axis=0) & np.isfinite(b).any(axis=0)
    missing = int((~both).sum())
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_item = np.where(both, np.nanmean(a, axis=0) - np.nanmean(b, axis=0), np.nan)
    args = parts.draw_args(common)
    if a.shape[0] == 1 and b.shape[0] == 1:
        diff = stats.bootstrap_means(a - b, opts.n_resamples, seed, **args)[0]
        observed = float(np.nanmean(per_item)) if np.isfinite(per_item).any() else math.nan
        test = stats.test_name("paired", args.get("clusters"))
    else:
        a = np.where(both[None, :], a, np.nan)
        b = np.where(both[None, :], b, np.nan)
        diff = stats.hierarchical_difference_draws(a, b, opts.n_resamples, seed, **args)
        observed = _nanmean(a) - _nanmean(b)
        test = stats.test_name("hierarchical", args.get("clusters"))
    return _Draws(own, diff, observed, per_item, int(both.sum()), missing, test)


def _own_draws(values: np.ndarray, opts: StatsOptions, seed: int, args: dict[str, Any]) -> np.ndarray:
    if values.shape[0] == 1:
        return stats.bootstrap_means(values, opts.n_resamples, seed, **args)[0]
    return stats.bootstrap_hierarchical_means(values, opts.n_resamples, seed, **args)


def _nanmean(x: np.ndarray) -> float:
    finite = np.isfinite(x)
    return float(x[finite].mean()) if finite.any() else math.nan


def _cell_from_draws(value: float, own: np.ndarray, n_items: int, n_seeds: int, n_missing: int,
                     draws_diff: np.ndarray | None, observed_diff: float, effect: float,
                     test: str | None, opts: StatsOptions) -> Cell:
    lo, hi = stats.percentile_interval(own[None, :], opts.confidence)
    cell = Cell(value=value, ci_low=float(lo[0]), ci_high=float(hi[0]), n_items=n_items, n_seeds=n_seeds,
                n_missing=n_missing)
    if draws_diff is not None:
        dlo, dhi, p = stats.summarise_draws(draws_diff[None, :], opts.confidence)
        cell.diff, cell.diff_low, cell.diff_high = observed_diff, float(dlo[0]), float(dhi[0])
        cell.p_value, cell.effect_size, cell.test = float(p[0]), effect, test
        cell.diff_se = float(stats.draws_standard_error(draws_diff))
    return cell


def _effect(per_item: np.ndarray | None) -> float:
    if per_item is None or not np.isfinite(per_item).any():
        return math.nan
    return float(stats.paired_cohens_d(per_item[None, :])[0])


def _batched_draws(parts, systems, baseline, opts) -> dict[tuple[str, str, str], _Draws]:
    """Draws for every system of one column group at once, where that is exact.

    When every system of the group (baseline included) has a verdict for the same
    items of a capability, one call resamples them all with shared item draws, and
    each difference's draws are the difference of the two systems' draws. Groups
    with missing verdicts or different item sets take the per-system path.
    """
    out: dict[tuple[str, str, str], _Draws] = {}
    members = list(systems) + ([baseline] if baseline is not None and baseline not in systems else [])
    for index, capability in enumerate(CAPABILITIES):
        mats = [parts.matrix(capability, s.runs) for s in members]
        columns = mats[0].columns
        if len(columns) == 0 or any(not m.columns.equals(columns) for m in mats):
            continue
        if any(not np.isfinite(m.to_numpy(dtype=float)).all() for m in mats):
            continue
        arrays = [m.to_numpy(dtype=float) for m in mats]
        seed = parts.seed(opts, index)
        args = parts.draw_args(columns)
        if all(a.shape[0] == 1 for a in arrays):
            own = stats.bootstrap_means(np.vstack(arrays), opts.n_resamples, seed, **args)
        else:
            own = stats.hierarchical_means_many(arrays, opts.n_resamples, seed, **args)
        base_k = members.index(baseline) if baseline is not None else None
        for k, system in enumerate(members):
            key = (system.row, system.group, capability)
            if base_k is None or k == base_k:
                out[key] = _Draws(own[k], None, math.nan, None, 0, 0, None)
                continue
            a, b = arrays[k], arrays[base_k]
            several = a.shape[0] > 1 or b.shape[0] > 1
            out[key] = _Draws(own[k], own[k] - own[base_k], float(a.mean() - b.mean()),
                              a.mean(axis=0) - b.mean(axis=0), a.shape[1], 0,
                              stats.test_name("hierarchical" if several else "paired", args.get("clusters")))
    return out


def _score_cells(parts, system, baseline, opts, notes, batched) -> dict[str, Cell]:
    """Perception, reasoning, planning and Avg cells of one system (Avg = mean of the three)."""
    cells: dict[str, Cell] = {}
    own_caps, diff_caps, obs_caps, per_item_all, values = [], [], [], [], []
    for index, capability in enumerate(CAPABILITIES):
        sys_m = parts.matrix(capability, system.runs)
        if sys_m.shape[1] == 0:
            continue
        base_m = parts.matrix(capability, baseline.runs) if baseline is not None else None
        if base_m is not None:
            _warn_item_sets(system, baseline, capability, sys_m.columns, base_m.columns, notes)
        draws = batched.get((system.row, system.group, capability))
        if draws is None:
            draws = _capability_draws(parts, sys_m, base_m, opts, parts.seed(opts, index))
        value = _nanmean(sys_m.to_numpy(dtype=float))
        if draws.n_missing:
            notes.append(f"'{system.row}'{_in(system.group)} vs baseline, {capability}: {draws.n_missing} item(s) "
                         "without a judge verdict in either system were left out of the comparison")
        n_missing = int((~np.isfinite(sys_m.to_numpy(dtype=float))).sum())
        cells[capability] = _cell_from_draws(value, draws.own, sys_m.shape[1], sys_m.shape[0], n_missing,
                                             draws.diff, draws.observed_diff, _effect(draws.diffs_per_item),
                                             draws.test, opts)
        own_caps.append(draws.own)
        values.append(value)
        if draws.diff is not None:
            diff_caps.append(draws.diff)
            obs_caps.append(draws.observed_diff)
            per_item_all.append(draws.diffs_per_item)
    if own_caps:  # Avg. over the capabilities present, as the evaluator's summary.json
        if len(own_caps) < len(CAPABILITIES):
            absent = [c for c in CAPABILITIES if c not in cells]
            notes.append(f"'{system.row}'{_in(system.group)}: no {', '.join(absent)} items in this setting; "
                         f"its Avg. is over {len(own_caps)} capabilities")
        own = np.mean(own_caps, axis=0)
        diff = np.mean(diff_caps, axis=0) if diff_caps and len(diff_caps) == len(own_caps) else None
        pooled = np.concatenate(per_item_all) if diff is not None else None
        first = next(iter(cells.values()))
        test = first.test if diff is not None else None
        cells["avg"] = _cell_from_draws(
            float(np.mean(values)), own, sum(c.n_items for c in cells.values()), first.n_seeds,
            sum(c.n_missing for c in cells.values()), diff, float(np.mean(obs_caps)) if diff is not None else math.nan,
            _effect(pooled), test, opts)
    return cells


def _accuracy_cell(parts, system, baseline, metric, opts, notes) -> Cell | None:
    part, column = ACCURACY_SOURCES[metric]
    sys_m = parts.matrix(part, system.runs, column)
    if sys_m.shape[1] == 0:
        return None
    values = sys_m.to_numpy(dtype=float)
    own = _own_draws(values, opts, opts.seed + 104729, parts.draw_args(sys_m.columns))
    lo, hi = stats.percentile_interval(own[None, :], opts.confidence)
    cell = Cell(value=_nanmean(values), ci_low=float(lo[0]), ci_high=float(hi[0]), n_items=sys_m.shape[1],
                n_seeds=sys_m.shape[0], n_missing=int((~np.isfinite(values)).sum()))
    if baseline is None:
        return cell
    base_m = parts.matrix(part, baseline.runs, column)
    _warn_item_sets(system, baseline, "MCQ" if part == "mcq" else "closed", sys_m.columns, base_m.columns, notes)
    common = sys_m.columns.intersection(base_m.columns)
    if len(common) == 0:
        return cell
    a, b = sys_m[common].to_numpy(dtype=float), base_m[common].to_numpy(dtype=float)
    clusters = parts.clusters(common)
    if a.shape[0] == 1 and b.shape[0] == 1:
        result = stats.paired_bootstrap(a[0], b[0], opts.n_resamples, opts.seed + 104729, opts.confidence,
                                        clusters=clusters)
        cell.diff, cell.diff_low, cell.diff_high = float(result.mean_diff), float(result.ci_low), float(result.ci_high)
        cell.p_value, cell.test, cell.diff_se = float(result.p_value), result.test, float(result.standard_error)
        if clusters is None:  # independent pairs: the exact test
            exact = stats.mcnemar_exact(a[0], b[0])
            cell.diff, cell.p_value, cell.test = float(exact.acc_diff), float(exact.p_value), exact.test
    else:
        result = stats.hierarchical_bootstrap(a, b, opts.n_resamples, opts.seed + 104729, opts.confidence,
                                              clusters=clusters)
        cell.diff, cell.p_value, cell.test = float(result.mean_diff), float(result.p_value), result.test
        cell.diff_low, cell.diff_high = float(result.ci_low), float(result.ci_high)
        cell.diff_se = float(result.standard_error)
    return cell


def _warn_item_sets(system, baseline, what, own_items, base_items, notes) -> None:
    own, base = set(own_items), set(base_items)
    if own == base:
        return
    message = (f"'{system.row}'{_in(system.group)} and baseline '{baseline.row}' were scored on different "
               f"{what} item sets ({len(own - base)} only in the first, {len(base - own)} only in the baseline); "
               f"the comparison uses the {len(own & base)} items both have")
    if message not in notes:
        notes.append(message)
        warnings.warn(message, ItemSetWarning, stacklevel=4)


def _in(group: str) -> str:
    return f" ({group})" if group else ""


def _efficiency_cell(collected: Collected, system: _System, metric: str) -> Cell | None:
    runs = collected.runs.set_index("run_id").loc[system.runs]
    values = pd.to_numeric(runs[metric], errors="coerce").to_numpy(dtype=float) if metric in runs else np.array([])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return Cell(value=float(values.mean()), n_seeds=int(values.size))


def build_table(collected: Collected, spec: TableSpec, baseline: str | None = None,
                options: StatsOptions | None = None) -> Table:
    """Cells, comparisons (corrected over the whole table) and caption of one table."""
    options = options or StatsOptions()
    baseline = baseline if baseline is not None else spec.baseline
    if collected.runs.empty:
        raise ReportInputError(f"table {spec.name}: no finished, evaluated runs to report"
                               + (f" (skipped: {collected.skipped[0]} …)" if collected.skipped else ""))
    items = collected.items
    settings = sorted(items["setting"].dropna().astype(str).unique())
    frame = items[items["setting"].astype(str) == spec.setting]
    if frame.empty:
        raise ReportInputError(f"table {spec.name}: no scores in setting {spec.setting!r}; "
                               f"the runs have: {', '.join(settings) or 'none'}")
    judge_id = _check_judges(frame)
    scored_runs = set(frame["run_id"])
    systems = _systems(collected, spec)
    seen_rows = list(dict.fromkeys(s.row for s in systems))
    rows = [r for r in spec.order if r in seen_rows] + [r for r in seen_rows if r not in spec.order]
    groups = list(dict.fromkeys(s.group for s in systems))
    if baseline is not None and baseline not in rows:
        from harness.registry import did_you_mean

        raise ReportInputError(f"table {spec.name}: baseline {baseline!r} is not a row; rows are: "
                               f"{', '.join(rows)}" + did_you_mean(baseline, rows))
    by_key = {(s.row, s.group): s for s in systems}
    notes = [f"skipped {s}" for s in collected.skipped]
    cells: dict[tuple[str, str, str], Cell] = {}
    batched: dict[tuple[str, str, str], _Draws] = {}
    parts = _Parts(frame, options.cluster)
    if any(m in SCORE_METRICS for m in spec.metrics):
        for group in groups:
            members = [s for s in systems if s.group == group]
            base = by_key.get((baseline, group)) if baseline is not None else None
            batched.update(_batched_draws(parts, members, base, options))
    for system in systems:
        base = by_key.get((baseline, system.group)) if baseline is not None else None
        if base is system:
            base = None
        if baseline is not None and base is None and system.row != baseline:
            notes.append(f"'{system.row}'{_in(system.group)} has no baseline run in its group; not tested")
        missing_setting = [r for r in system.runs if r not in scored_runs]
        if missing_setting:
            raise ReportInputError(f"table {spec.name}: run(s) {', '.join(missing_setting)} have no scores in "
                                   f"setting {spec.setting!r}; a column never mixes settings")
        if any(m in SCORE_METRICS for m in spec.metrics):
            for metric, cell in _score_cells(parts, system, base, options, notes, batched).items():
                if metric in spec.metrics:
                    cells[(system.row, system.group, metric)] = cell
        for metric in spec.metrics:
            cell = None
            if metric in ACCURACY_METRICS:
                cell = _accuracy_cell(parts, system, base, metric, options, notes)
            elif metric in EFFICIENCY_METRICS:
                cell = _efficiency_cell(collected, system, metric)
            if cell is not None:
                cells[(system.row, system.group, metric)] = cell
    table = Table(spec=spec, options=options, rows=rows, groups=groups, metrics=list(spec.metrics), cells=cells,
                  baseline=baseline, judge_id=judge_id, setting=spec.setting, notes=notes, unit=parts.unit,
                  n_clusters=len(parts.universe) if parts.universe is not None else int(frame["item_id"].nunique()),
                  unit_note=parts.unit_note)
    table.seeds = {(s.row, s.group): len(s.runs) for s in systems}
    seed_of = dict(zip(collected.runs["run_id"], collected.runs["seed"]))
    for system in systems:
        seeds = [seed_of.get(r) for r in system.runs]
        repeated = sorted({str(x) for x in seeds if seeds.count(x) > 1})
        if repeated:
            table.notes.append(f"'{system.row}'{_in(system.group)} has several runs with seed {', '.join(repeated)} "
                               "(forced reruns?); each counts as one replicate")
    for capability in CAPABILITIES:
        sub = frame[frame["capability"] == capability]
        counts = sub.groupby("run_id")["item_id"].nunique()
        table.items[capability] = int(counts.max()) if len(counts) else 0
    _correct(table)
    _minimum_detectable_effects(table)
    _mark_best(table)
    from harness.report.caption import caption

    table.caption = caption(table)
    return table


def _correct(table: Table) -> None:
    keys = [k for k, c in table.cells.items() if math.isfinite(c.p_value)]
    if not keys:
        return
    adjusted = stats.adjust(np.array([table.cells[k].p_value for k in keys]), table.options.correction)
    for key, p in zip(keys, adjusted):
        cell = table.cells[key]
        cell.p_adjusted = float(p)
        cell.significant = bool(p < table.options.alpha)
    table.n_comparisons = len(keys)
    table.tests = sorted({table.cells[k].test for k in keys if table.cells[k].test})


def _minimum_detectable_effects(table: Table) -> None:
    """Per tested metric, the median over its comparisons of the effect this test detects with
    ``options.power`` at α (two-sided, before correction), from each comparison's standard error."""
    for metric in table.metrics:
        ses = [c.diff_se for (_, _, m), c in table.cells.items() if m == metric and math.isfinite(c.diff_se)]
        if ses:
            table.mde[metric] = minimum_detectable_effect(float(np.median(ses)), table.options.alpha,
                                                          table.options.power)


def _mark_best(table: Table) -> None:
    for group in table.groups:
        for metric in table.metrics:
            present = [(r, table.cells[(r, group, metric)]) for r in table.rows if (r, group, metric) in table.cells]
            values = [c.value for _, c in present if math.isfinite(c.value)]
            if not values:
                continue
            if len(values) > 1 and min(values) == max(values):
                continue  # every row ties: nothing is best
            best = min(values) if EFFICIENCY_METRICS.get(metric) == "min" else max(values)
            for _, cell in present:
                cell.best = math.isfinite(cell.value) and cell.value == best
