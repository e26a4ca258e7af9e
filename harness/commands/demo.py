"""`harness demo`: the mini Drive-KD paper on the embedded default (what `make demo` runs).

Builds the tiny zoo and the synthetic benchmark, fine-tunes the tiny teachers and
pretrains the tiny students, trains seven methods × two families × two seeds
(ablations/tiny/demo.yaml), evaluates everything and writes results/demo/report.md
(+ .tex, .html, figures). See docs/demo.md and harness/demo/.
"""

from __future__ import annotations

import argparse



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="parallel processes for the student runs (default 2: one per core)")
    parser.add_argument("--out", metavar="DIR",
                        help="where everything goes (default: RESULTS/demo, or RESULTS/demo-quick with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="every size cut down: the same pipeline in about two minutes, numbers meaningless (tests)")


def main(args: argparse.Namespace) -> int:
    from harness.demo.pipeline import run_demo
    from harness.errors import HarnessError

    if args.workers < 1:
        raise HarnessError("--workers must be at least 1")
    run_demo(quick=args.quick, workers=args.workers, out=args.out)
    return 0
