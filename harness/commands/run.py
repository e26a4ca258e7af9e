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


def main(args: argparse.Namespace) -> int:
    api.run(args.recipe, args.overrides, force=args.force, resume=args.resume, results_root=args.results,
            progress=not args.quiet, evaluate=not args.no_eval)
    return 0
