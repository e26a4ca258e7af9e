"""`harness power [PILOT_RUNS]`: the smallest difference a design detects, or the seeds it needs, before GPU time."""

from __future__ import annotations

import argparse

from harness.errors import HarnessError



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pilot", nargs="?", metavar="PILOT_RUNS",
                        help="folder of evaluated pilot runs (one configuration, two or more seeds); "
                             "or give --seed-sd and --cluster-sd instead")
    parser.add_argument("--seed-sd", type=float, help="sd across seeds of one configuration's score (points)")
    parser.add_argument("--cluster-sd", type=float,
                        help="sd of two runs' paired per-cluster difference (points; cluster_sd²/clusters = variance)")
    parser.add_argument("--items-per-cluster", type=float, default=None,
                        help="questions per cluster (default: the pilot's, else 7 as DriveBench's frames)")
    parser.add_argument("--items", type=int, help="items in the planned evaluation (default: the pilot's, else 1461)")
    parser.add_argument("--seeds", default="1,2,3,5,10", metavar="N[,N]", help="seeds per method to tabulate")
    parser.add_argument("--effect", type=float, help="report the seeds per method needed to detect this difference")
    parser.add_argument("--metric", default="avg", help="perception, reasoning, planning or avg (default: avg)")
    parser.add_argument("--setting", default="clean", help="setting of the pilot's scores (default: clean)")
    parser.add_argument("--cluster", default="frame_token", choices=("frame_token", "scene_token", "item"),
                        help="resampling unit (default: frame_token)")
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default: 0.05)")
    parser.add_argument("--power", type=float, default=0.8, help="power (default: 0.8)")


def _seeds(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise HarnessError(f"--seeds: expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise HarnessError(f"--seeds: every number of seeds must be at least 1, got {text!r}")
    return values


def main(args: argparse.Namespace) -> int:
    from harness.report.power import Variability

    if not 0.0 < args.alpha < 1.0 or not 0.0 < args.power < 1.0:
        raise HarnessError(f"--alpha and --power must lie in (0, 1), got {args.alpha} and {args.power}")
    seeds = _seeds(args.seeds)
    given = (args.seed_sd, args.cluster_sd)
    if args.pilot is not None:
        if any(v is not None for v in given):
            raise HarnessError("give either PILOT_RUNS or --seed-sd and --cluster-sd, not both")
        from harness.report.collect import collect
        from harness.report.pilot import variability

        collected = collect(args.pilot)
        if collected.runs.empty:
            raise HarnessError(f"{args.pilot}: no finished, evaluated run directories (with eval/scores.parquet)")
        v = variability(collected, metric=args.metric, setting=args.setting, unit=args.cluster)
        if args.items_per_cluster is not None:
            raise HarnessError("--items-per-cluster comes from the pilot; leave it out")
    elif all(x is not None for x in given):
        if min(given) < 0:
            raise HarnessError("--seed-sd and --cluster-sd must be at least 0")
        v = Variability(seed_sd=args.seed_sd, cluster_sd=args.cluster_sd,
                        items_per_cluster=args.items_per_cluster or 7.0, n_items=1461,
                        source="given on the command line")
    else:
        raise HarnessError("give PILOT_RUNS, or both --seed-sd and --cluster-sd")
    n_items = args.items or v.n_items
    if n_items < 1:
        raise HarnessError(f"--items must be at least 1, got {n_items}")
    print(f"variability: seed sd {v.seed_sd:.3g}, cluster sd {v.cluster_sd:.3g}, "
          f"{v.items_per_cluster:.3g} items per cluster ({v.source})")
    print(f"design: {n_items} items ({n_items / v.items_per_cluster:.0f} clusters), α = {args.alpha:g} two-sided, "
          f"power {args.power:g}")
    print(f"{'seeds per method':>16}  {'minimum detectable effect':>25}")
    for n in seeds:
        print(f"{n:>16}  {v.mde(n, n_items, args.alpha, args.power):>25.3f}")
    print("(a claim about two methods, n seeds each: the standard error the report's hierarchical bootstrap "
          "(seeds, then clusters) reads; with one seed a table tests the two runs, and its caption states that "
          "test's own minimum detectable effect; a method-by-item effect would add a term more seeds do not remove)")
    if args.effect is not None:
        if args.effect == 0:
            raise HarnessError("--effect must not be 0")
        needed = v.seeds_needed(args.effect, n_items, args.alpha, args.power)
        print(f"seeds per method needed for an effect of {abs(args.effect):g}: {needed}")
    return 0
