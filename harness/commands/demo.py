"""`harness demo`: the mini Drive-KD paper on the embedded default (what `make demo` runs).

Builds the tiny zoo and the synthetic benchmark, checks the shipped tiny teachers (or
fine-tunes them, and pretrains students, where a study asks), trains every method × family ×
seed of ablations/tiny/demo.yaml, evaluates everything, measures where the models look and
writes results/demo/report.md (+ .tex, .html, findings.json, figures). ``--build-teachers``
builds the demo teachers to ship instead (harness/demo/teachers.py). See docs/demo.md and
harness/demo/.
"""

from __future__ import annotations

import argparse



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="parallel processes for the student runs (default 2: one per core)")
    parser.add_argument("--out", metavar="DIR",
                        help="where everything goes (default: RESULTS/demo, or RESULTS/demo-quick with --quick)")
    parser.add_argument("--ablation", metavar="FILE",
                        help="the study to run instead of ablations/tiny/demo.yaml, in the same form (e.g. "
                             "ablations/tiny/drivebench_methods.yaml; default out: RESULTS/demo-<file stem>)")
    parser.add_argument("--quick", action="store_true",
                        help="every size cut down: the same pipeline in about two minutes, numbers meaningless (tests)")
    parser.add_argument("--build-teachers", action="store_true",
                        help="build the demo teachers to ship (ablations/tiny/teachers/, 40 min or more of one core each) "
                             "instead of running the demo")


def main(args: argparse.Namespace) -> int:
    from harness.demo.pipeline import run_demo
    from harness.errors import HarnessError

    if args.workers < 1:
        raise HarnessError("--workers must be at least 1")
    if args.build_teachers:
        from harness.demo.pipeline import build_demo_teachers

        for folder in build_demo_teachers(workers=args.workers):
            print(f"demo teacher written: {folder}")
        return 0
    run_demo(quick=args.quick, workers=args.workers, out=args.out, ablation=args.ablation)
    return 0
