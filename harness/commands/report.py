"""`harness report ABLATION.yaml|RUNS_DIR`: paper tables with significance tests, and figures."""

from __future__ import annotations

import argparse
import sys
import warnings



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="ABLATION.yaml|RUNS_DIR",
                        help="an ablation file (its study's runs under --results) or a folder of run directories")
    parser.add_argument("--baseline", help="row every other row is tested against (default: the table's baseline)")
    parser.add_argument("--format", default="md", metavar="FMT[,FMT]",
                        help="comma-separated: md, tex, html, csv (default: md)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: results/reports/<study>)")
    parser.add_argument("--results", metavar="DIR", help="results root holding runs/ (default: $HARNESS_RESULTS or ./results)")
    parser.add_argument("--setting", help="setting to tabulate (default: the table's, else clean)")
    parser.add_argument("--kind", choices=("table1", "table2", "table3", "settings"),
                        help="table layout (overrides the file); settings: one row per evaluation setting")
    parser.add_argument("--settings", metavar="S[,S]",
                        help="--kind settings: comma-separated settings side by side (default: all the runs have)")
    parser.add_argument("--rows", help="row field: 'variant' or a dotted recipe path (overrides the file)")
    parser.add_argument("--columns", help="comma-separated dotted paths making column groups (overrides the file)")
    parser.add_argument("--metrics", help="comma-separated metrics (overrides the file)")
    parser.add_argument("--correction", default="holm", choices=("holm", "bh", "none"),
                        help="multiple-comparison correction over the table (default: holm)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default: 10000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--cluster", default="frame_token", choices=("frame_token", "scene_token", "item"),
                        help="what the bootstrap resamples: DriveBench frames (default), scenes, or single items")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG/PDF figures")


def _split(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(v.strip() for v in value.split(",") if v.strip())


def main(args: argparse.Namespace) -> int:
    from harness.report.api import report
    from harness.report.spec import StatsOptions

    table = {"setting": args.setting, "kind": args.kind, "rows": args.rows,
             "columns": _split(args.columns), "metrics": _split(args.metrics), "settings": _split(args.settings)}
    if args.kind and not args.metrics:  # a new kind brings its default metrics
        from harness.report.spec import DEFAULT_METRICS

        table["metrics"] = DEFAULT_METRICS[args.kind]
    if args.kind and not args.rows:  # ... and its default rows, where it has its own
        from harness.report.spec import DEFAULT_ROWS

        table["rows"] = DEFAULT_ROWS.get(args.kind)
    options = StatsOptions(alpha=args.alpha, correction=args.correction, n_resamples=args.resamples, seed=args.seed,
                           cluster=args.cluster)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = report(args.source, baseline=args.baseline, formats=args.format, out=args.out,
                         results_root=args.results, table=table, options=options,
                         figures=not args.no_figures, echo=print)
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"harness report: warning: {warning.message}", file=sys.stderr)
    for key, path in written.items():
        print(f"wrote {key:<24} {path}")
    return 0
