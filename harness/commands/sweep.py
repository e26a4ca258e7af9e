"""`harness sweep FILE`: run an ablation study (Optuna) whose trials are ordinary runs."""

from __future__ import annotations

import argparse

from harness.errors import HarnessError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ablation", metavar="FILE", help="ablation file (ablations/*.yaml)")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna storage: sqlite:///x.db, postgresql://…, mysql://…, or journal:PATH on a shared "
                             "filesystem (default: sqlite under RESULTS/sweeps/)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="local worker processes (default 1)")
    parser.add_argument("--n-trials", type=int, metavar="N", help="number of trials (default: the file's n_trials, "
                                                                   "else every variant / grid point × seed)")
    parser.add_argument("--rerun-top", type=int, metavar="K", help="re-run the K best configurations with fresh seeds")
    parser.add_argument("--seeds", metavar="S", help="with --rerun-top: a count of fresh seeds (3) or a list (100,101)")
    parser.add_argument("--study-name", metavar="NAME", help="study name in the storage (default: the file's name)")
    parser.add_argument("--results", metavar="DIR", help="results root (default: $HARNESS_RESULTS or ./results)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--inline-trials", action="store_true",
                        help="run each trial inside its worker, not as a `harness run` child process: saves "
                             "an interpreter start per trial (tiny runs); no pruning")
    parser.add_argument("--dashboard", action="store_true",
                        help="run no trials: serve optuna-dashboard on the study's storage until Ctrl-C "
                             "(needs optuna-dashboard; see docs/tracking.md)")
    parser.add_argument("--host", help="with --dashboard: address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="with --dashboard: port (default 8080)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # started by --workers N


def main(args: argparse.Namespace) -> int:
    import optuna

    from harness import api

    if args.dashboard:
        from harness.sweep.dashboard import serve_dashboard

        serve_dashboard(args.ablation, storage=args.storage, results_root=args.results, study_name=args.study_name,
                        host=args.host or "127.0.0.1", port=args.port or 8080,
                        on_ready=lambda line: print(line, flush=True))
        return 0
    if args.host is not None or args.port is not None:
        raise HarnessError("--host and --port only go with --dashboard")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep prints its own progress lines

    result = api.run_sweep(args.ablation, storage=args.storage, workers=args.workers, n_trials=args.n_trials,
                           results_root=args.results, study_name=args.study_name, rerun_top_k=args.rerun_top,
                           seeds=args.seeds, worker_only=args.worker, quiet=args.quiet,
                           inline_trials=args.inline_trials)
    return 0 if not result.counts.get("fail") or result.counts.get("complete") else 1
