"""`report(...)`: an ablation file or a folder of runs → tables, figures and a web page.

What ``harness report`` calls. An ablation file names a study: its runs are the
run directories under the results root whose run.json says ``"study": <name>``,
and its ``table:`` section says how to draw them. A folder of runs is drawn as an
ablation-style table (one row per variant, or per recipe name when the runs belong
to no study), unless options say otherwise.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterable

from harness.errors import HarnessError
from harness.paths import results_dir
from harness.report import plots, render
from harness.report.collect import Collected, collect
from harness.report.spec import Ablation, ReportSpecError, StatsOptions, TableSpec, read_ablation
from harness.report.tables import Table, build_table
from harness.rundir import atomic_write_text

FORMAT_SUFFIX = {"md": ".md", "tex": ".tex", "html": ".html", "csv": ".csv"}


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
    return build_table(collected, spec, baseline=baseline, options=options or StatsOptions()), collected, ablation


def report(source: str | Path, baseline: str | None = None, formats: str | Iterable[str] = ("md",),
           out: str | Path | None = None, *, results_root: str | Path | None = None, table: dict | None = None,
           options: StatsOptions | None = None, figures: bool = True,
           echo: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write the table in each format, the figures and return ``{what: path}`` of every file written.

    Keys: the formats (``md``, ``tex``, ``html``, ``csv``) and ``<figure>.<png|pdf>``.
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
    if echo is not None:
        echo(render.render_terminal(built))
        echo(built.caption)
        for note in built.notes:
            echo(f"note: {note}")
    return written


def _figures(table: Table, collected: Collected, ablation: Ablation | None, folder: Path) -> dict[str, Path]:
    made: dict[str, Path] = {}
    jobs = [("capabilities", lambda stem: plots.plot_capabilities(table, stem)),
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
