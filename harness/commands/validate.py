"""`harness validate RECIPE...`: check recipes without running them; exit 0 or 2.

``--json`` prints one JSON object per valid recipe, ``{file, config_hash, run_folder}``
(the folder a run of it would use under the results root), for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys

from harness import api
from harness.errors import HarnessError
from harness.paths import results_dir
from harness.rundir import run_path



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="+", metavar="RECIPE", help="recipe YAML files")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field, e.g. --set train.lr=1e-4 (repeatable)")
    parser.add_argument("--print", dest="show", action="store_true", help="print each resolved recipe")
    parser.add_argument("--json", action="store_true",
                        help="one JSON line per recipe: {file, config_hash, run_folder}")
    parser.add_argument("--results", metavar="DIR", help="results root for run_folder (default: $HARNESS_RESULTS or ./results)")
    parser.add_argument("--check-files", action="store_true",
                        help="also check that every local path the recipe names (weights, data files, data_root) exists")


def main(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.recipes:
        try:
            recipe = api.validate(path, args.overrides, check_files=args.check_files)
        except HarnessError as exc:
            print(f"harness validate: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            folder = run_path(args.results or results_dir(), recipe.name, recipe.hash, recipe.seed)
            print(json.dumps({"file": path, "config_hash": recipe.hash, "run_folder": str(folder)}))
        else:
            print(f"ok  {path}  ({recipe.name}, {recipe.hash[:8]})")
        if args.show:
            print(recipe.to_yaml())
    if failed and len(args.recipes) > 1:
        print(f"harness validate: {failed} of {len(args.recipes)} recipe(s) invalid", file=sys.stderr)
    return 2 if failed else 0
