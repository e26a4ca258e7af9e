"""`report(...)`: an ablation file or a folder of runs → tables, figures and a web page.

What ``harness report`` calls. An ablation file names a study: its runs are the
run directories under the results root whose run.json says ``"study": <name>``,
and its ``table:`` section says how to draw them. A folder of runs is drawn as an
ablation-style table (one row per variant, or per recipe name when the runs belong
to no study), unless options say otherwise.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable, Iterable, Sequence

from harness.errors import HarnessError
from harness.files import atomic_write_text
from harness.paths import results_dir
from harness.report import plots, render
from harness.report.collect import Collected, ReportInputError, collect
from harness.report.findings import write_findings
from harness.report.gradients import gradient_share_rows, render_gradient_shares_markdown
from harness.report.settings import BY_SETTING, LEADING_SETTINGS, by_setting, settings_present
from harness.report.spec import Ablation, ReportSpecError, StatsOptions, TableSpec, read_ablation
from harness.report.tables import Table, build_table

FORMAT_SUFFIX = {"md": ".md", "tex": ".tex", "html": ".html", "csv": ".csv"}
# a settings table's model groups when none are named: one per variant (else recipe name)
DEFAULT_SETTINGS_COLUMNS = ("method",)


def _formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = formats.split(",")
    out = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    for fmt in out:
        if fmt not in FORMAT_SUFFIX:
            raise ReportSpecError(f"--format: {fmt!r} is not one of {', '.join(FORMAT_SUFFIX)}")
    return out


def _runs_root(results_root: str | Path | None) -> Path:
    root = Path(results_root) if results_root is not None else results_dir()
    return root / "runs" if (root / "runs").is_dir() else root


def gone_runs(results_root: Path, study: str) -> list[str]:
    """``"PATH: ..."`` for each completed trial of ``study`` whose run folder no longer exists.

    The sweep's ``study.json`` lists every trial with its run folder; a folder deleted
    since would otherwise drop its row from the table without a word.
    """
    try:
        trials = json.loads((results_root / "sweeps" / study / "study.json").read_text(encoding="utf-8"))["trials"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    out = []
    for trial in trials if isinstance(trials, list) else []:
        run = trial.get("run") if isinstance(trial, dict) else None
        if trial.get("state") == "complete" and run and not Path(run).exists():
            out.append(f"{run}: the run folder is gone (trial {trial.get('trial')} of study '{study}' completed in it)")
    return out


def load_source(source: str | Path, results_root: str | Path | None = None) -> tuple[Collected, TableSpec, Ablation | None]:
    """Collected runs and the table to draw for an ablation file or a runs folder."""
    source = Path(source)
    if source.is_file() and source.suffix in (".yaml", ".yml"):
        ablation = read_ablation(source)
        root = _runs_root(results_root)
        if not root.exists():
            raise HarnessError(f"{source}: study '{ablation.name}' has no runs: {root} does not exist "
                               f"(run `harness sweep {source}` first, or pass --results)")
        collected = collect(root, study=ablation.name)
        collected.skipped.extend(gone_runs(root.parent if root.name == "runs" else root, ablation.name))
        if collected.runs.empty:
            extra = f"; {len(collected.skipped)} unfinished or unevaluated" if collected.skipped else ""
            raise HarnessError(f"{source}: no finished, evaluated runs of study '{ablation.name}' under {root}{extra} "
                               f"(run `harness sweep {source}` first)")
        return collected, ablation.table, ablation
    if source.is_dir():
        collected = collect(source)
        if collected.runs.empty:
            why = f" ({collected.skipped[0]})" if collected.skipped else ""
            raise HarnessError(f"{source}: no finished, evaluated run directories (with eval/scores.parquet){why}")
        return collected, TableSpec(name=source.resolve().name or "runs"), None
    raise HarnessError(f"{source}: not an ablation file (.yaml) nor a directory of runs")


def build(source: str | Path, *, baseline: str | None = None, results_root: str | Path | None = None,
          table: dict | None = None, options: StatsOptions | None = None) -> tuple[Table, Collected, Ablation | None]:
    """The table for ``source`` without writing anything; ``table`` overrides TableSpec fields."""
    collected, spec, ablation = load_source(source, results_root)
    if table:
        spec = dataclasses.replace(spec, **{k: v for k, v in table.items() if v is not None})
    if spec.settings and spec.kind != "settings":
        raise ReportSpecError(f"table {spec.name}: settings {', '.join(spec.settings)} were named but the table's "
                              f"kind is {spec.kind!r}; use --kind settings to show settings side by side")
    drawn = collected
    if spec.kind == "settings":
        drawn, spec, baseline = settings_view(collected, spec, baseline)
    return build_table(drawn, spec, baseline=baseline, options=options or StatsOptions()), collected, ablation


def settings_view(collected: Collected, spec: TableSpec,
                  baseline: str | None = None) -> tuple[Collected, TableSpec, str | None]:
    """What a ``settings`` table is built from: pseudo-runs per (run, setting), its spec and its baseline.

    With ``rows: setting`` the baseline is a setting (default: clean when the runs
    have it, else the first setting shown); it is shown even when ``settings`` leaves it out, since
    every other row is tested against it. Without ``columns`` each model (``method``:
    the variant, else the recipe name) is its own group, so different models' runs
    are never pooled as if they were seeds of one. The spec's setting becomes
    :data:`~harness.report.settings.BY_SETTING` and its row order the settings' order.
    """
    baseline = baseline if baseline is not None else spec.baseline
    present = settings_present(collected)
    settings = list(dict.fromkeys(spec.settings)) or present
    if spec.rows == "setting":
        if baseline is None:
            baseline = LEADING_SETTINGS[0] if LEADING_SETTINGS[0] in present else (settings[0] if settings else None)
        elif baseline not in present:
            raise ReportInputError(f"table {spec.name}: baseline setting {baseline!r} is not among the runs' "
                                   f"settings: {', '.join(present) or 'none'}")
        if baseline is not None and baseline not in settings:
            settings.insert(0, baseline)
    across = by_setting(collected, settings)
    order = tuple(settings) if spec.rows == "setting" else spec.order
    columns = spec.columns or (DEFAULT_SETTINGS_COLUMNS if spec.rows == "setting" else ())
    spec = dataclasses.replace(spec, setting=BY_SETTING, settings=tuple(settings), order=order, columns=columns)
    return across, spec, baseline


def build_settings_table(collected: Collected, *, settings: Sequence[str] | None = None,
                         columns: Sequence[str] = DEFAULT_SETTINGS_COLUMNS, baseline: str | None = "clean",
                         metrics: Sequence[str] | None = None, name: str = "settings", caption: str = "",
                         options: StatsOptions | None = None) -> Table:
    """One row per evaluation setting, one column group per model, each setting tested against ``baseline``.

    ``settings``: which settings, in order (default: all present, clean then
    text_only then the rest sorted); ``columns``: dotted paths whose values make the
    model groups (e.g. ``("student.family",)``); ``baseline``: the setting every
    other row is compared with, paired on items, within its group (None: clean
    when present, else the first setting). Metrics default to the ``settings`` kind's.
    """
    spec = TableSpec(name=name, kind="settings", rows="setting", columns=tuple(columns), baseline=baseline,
                     metrics=tuple(metrics or ()), caption=caption, settings=tuple(settings or ()))
    across, spec, baseline = settings_view(collected, spec)
    return build_table(across, spec, baseline=baseline, options=options or StatsOptions())


def report(source: str | Path, baseline: str | None = None, formats: str | Iterable[str] = ("md",),
           out: str | Path | None = None, *, results_root: str | Path | None = None, table: dict | None = None,
           options: StatsOptions | None = None, figures: bool = True,
           echo: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write the table in each format, the figures and return ``{what: path}`` of every file written.

    Keys: the formats (``md``, ``tex``, ``html``, ``csv``), ``<figure>.<png|pdf>``, ``findings``
    (findings.json: every tested comparison) and, when the runs logged gradient norms,
    ``gradient_shares`` (each objective's share of CE's gradient norm per run).
    ``echo`` receives the terminal rendering (tabulate) and the caption.
    """
    fmts = _formats(formats)
    built, collected, ablation = build(source, baseline=baseline, results_root=results_root, table=table,
                                       options=options)
    name = built.spec.name
    out_dir = Path(out) if out is not None else results_dir() / "reports" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if figures:
        written.update(_figures(built, collected, ablation, out_dir / "figures"))
    for fmt in fmts:
        path = out_dir / f"{name}{FORMAT_SUFFIX[fmt]}"
        if fmt == "md":
            text = render.render_markdown(built)
        elif fmt == "tex":
            text = render.render_latex(built)
        elif fmt == "csv":
            text = render.render_csv(built)
        else:
            pngs = [{"src": p.relative_to(out_dir).as_posix(), "title": key.rsplit(".", 1)[0].replace("_", " ")}
                    for key, p in written.items() if key.endswith(".png")]
            text = render.render_html([built], title=f"Report: {name}",
                                      description=ablation.description if ablation else "", figures=pngs)
        atomic_write_text(path, text)
        written[fmt] = path
    written["findings"] = write_findings(out_dir / "findings.json", [built],
                                         study=ablation.name if ablation else None)
    shares = gradient_share_rows(collected)
    if shares:
        written["gradient_shares"] = out_dir / f"{name}_gradient_shares.md"
        atomic_write_text(written["gradient_shares"], render_gradient_shares_markdown(shares))
    if echo is not None:
        echo(render.render_terminal(built))
        echo(built.caption)
        for note in built.notes:
            echo(f"note: {note}")
    return written


def _figures(table: Table, collected: Collected, ablation: Ablation | None, folder: Path) -> dict[str, Path]:
    made: dict[str, Path] = {}
    jobs = [("forest", lambda stem: plots.plot_forest(table, stem)),
            ("capabilities", lambda stem: plots.plot_capabilities(table, stem)),
            ("gradient_conflicts", lambda stem: plots.plot_conflicts(collected, stem))]
    objective = (ablation.objective if ablation else {}) or {}
    metric = str(objective.get("metric", "eval.avg"))
    direction = str(objective.get("direction", "maximize"))
    jobs.append(("objective_history",
                 lambda stem: plots.plot_objective_history(collected, stem, metric=metric, direction=direction)))
    for name, job in jobs:
        for path in job(folder / name):
            made[f"{name}{path.suffix}"] = path
    return made
