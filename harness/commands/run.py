"""`harness run RECIPE`: distil a student from a recipe, then evaluate it."""

from __future__ import annotations

import argparse

from harness import api



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", metavar="RECIPE", help="recipe YAML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field, e.g. --set train.lr=1e-4 (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    parser.add_argument("--force", action="store_true", help="run again into a new directory even if a finished run exists")
    parser.add_argument("--results", metavar="DIR", help="results root (default: $HARNESS_RESULTS or ./results)")
    parser.add_argument("--no-eval", action="store_true", help="stop after training")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--study", metavar="NAME", help="the sweep study this run is a trial of (set by harness sweep; "
                                                         "trackers group the run under it)")
    parser.add_argument("--trial", type=int, metavar="N", help="its trial number in that study (set by harness sweep)")


def main(args: argparse.Namespace) -> int:
    api.run(args.recipe, args.overrides, force=args.force, resume=args.resume, results_root=args.results,
            progress=not args.quiet, evaluate=not args.no_eval, study=args.study, trial=args.trial)
    return 0
