"""`harness demo`: the main job on the embedded default (what `make demo` runs).

Builds the tiny zoo and the synthetic benchmark on first use, fine-tunes the tiny
teachers, and distils the tiny InternVL3-style student with three capability
teachers and AGP (recipes/tiny/agp_internvl.yaml), evaluating it when the
evaluator is available. Results land in results/runs/tiny_agp_internvl/.
"""

from __future__ import annotations

import argparse

from harness import api
from harness.paths import REPO_ROOT

HELP = "run the embedded default end to end (what `make demo` runs)"
RECIPE = REPO_ROOT / "recipes" / "tiny" / "agp_internvl.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the demo recipe (repeatable)")
    parser.add_argument("--force", action="store_true", help="run again even if the demo run finished before")


def main(args: argparse.Namespace) -> int:
    print(f"demo: {RECIPE.relative_to(REPO_ROOT)} on the tiny offline zoo and the synthetic driving benchmark")
    run = api.run(RECIPE, args.overrides, force=args.force)
    print(f"demo: results in {run.path}")
    return 0
