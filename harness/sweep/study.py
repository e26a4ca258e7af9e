"""`harness sweep`: an ablation file → an Optuna study whose trials are ordinary runs.

One process (any of them, on any machine) creates the study and enqueues the
whole plan; every process then works the queue (see :mod:`.worker`). With
``workers > 1`` this process starts that many worker processes (each
``harness sweep … --worker``) and only watches, printing progress; with one
worker it runs the trials itself. ``rerun_top`` enqueues the best configurations
again with fresh seeds for the significance tests before working the queue.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tabulate import tabulate

from harness.errors import HarnessError
from harness.interrupts import sigterm_as_interrupt
from harness.paths import results_dir
from harness.sweep.ablation import Ablation, config_key, describe, load_ablation
from harness.sweep.heartbeat import retry_callback
from harness.sweep.storage import default_storage, open_storage, open_study
from harness.sweep.worker import Context, counts, work

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    study: str
    storage: str
    counts: dict[str, int]
    best: dict[str, Any] | None
    trials: list[dict[str, Any]]


@contextmanager
def optuna_warnings_hidden():
    """Keep Optuna's experimental-feature and deprecation warnings out of a sweep's output.

    Scoped to the sweep (the filters are restored when it returns), and Optuna's own
    log level is the caller's to set (the CLI does): a library call changes neither
    for the whole process.
    """
    import optuna

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
        yield


def trial_params(trial) -> dict[str, Any]:
    """A trial's Optuna values; an enqueued trial not yet started has them as fixed params."""
    return dict(trial.params) or dict(trial.system_attrs.get("fixed_params") or {})


def trial_rows(study, ablation: Ablation) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        params = ablation.decode({k: v for k, v in trial_params(t).items() if k in ablation.spec.space})
        rows.append({
            "trial": t.number,
            "config": describe(t.user_attrs, params),
            "seed": t.user_attrs.get("harness.seed"),
            "state": t.state.name.lower(),
            "value": t.value if t.state.name == "COMPLETE" else None,
            "run": t.user_attrs.get("harness.run"),
            "rerun": bool(t.user_attrs.get("harness.rerun")),
            "error": t.user_attrs.get("harness.error"),
        })
    return rows


def best_row(rows: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    done = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    if not done:
        return None
    pick = max if direction == "maximize" else min
    return pick(done, key=lambda r: r["value"])


def progress_line(study, ablation: Ablation) -> str:
    c = counts(study)
    best = best_row(trial_rows(study, ablation), ablation.spec.objective.direction)
    parts = [f"{c.get('complete', 0)} done", f"{c.get('running', 0)} running", f"{c.get('waiting', 0)} waiting",
             f"{c.get('fail', 0)} failed", f"{c.get('pruned', 0)} pruned"]
    best_text = (f" | best {ablation.spec.objective.metric} = {best['value']:.6g} ({best['config']}, seed {best['seed']})"
                 if best else "")
    return f"[{study.study_name}] " + ", ".join(parts) + best_text


def parse_seeds(text: str | None, used: set[int]) -> list[int]:
    """``"3"`` → three seeds not used yet; ``"5,6,7"`` → those seeds."""
    if text is None:
        raise HarnessError("--rerun-top needs --seeds (a count of fresh seeds, or a comma list like 100,101)")
    text = str(text).strip()
    try:
        if "," not in text:
            count = int(text)
            if count < 1:
                raise ValueError
            start = max(used, default=-1) + 1
            return list(range(start, start + count))
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise HarnessError(f"--seeds '{text}': give a count (3) or a comma list of integers (100,101,102)") from None


def rerun_top(study, ablation: Ablation, k: int, seeds_text: str | None, *, on_event: Callable[[str], None] = print) -> int:
    """Enqueue the best ``k`` configurations (mean objective over seeds) with fresh seeds."""
    from optuna.trial import TrialState

    if k < 1:
        raise HarnessError("--rerun-top must be at least 1")
    trials = study.get_trials(deepcopy=False)
    used = {int(t.user_attrs["harness.seed"]) for t in trials if "harness.seed" in t.user_attrs}
    seeds = parse_seeds(seeds_text, used)
    groups: dict[str, list] = {}
    for t in trials:
        if t.state == TrialState.COMPLETE:
            groups.setdefault(config_key(t.user_attrs, trial_params(t)), []).append(t)
    if not groups:
        raise HarnessError(f"study '{study.study_name}' has no complete trials to rerun yet")
    sign = -1.0 if ablation.spec.objective.direction == "maximize" else 1.0
    ranked = sorted(groups.values(), key=lambda ts: sign * sum(t.value for t in ts) / len(ts))
    present = {(config_key(t.user_attrs, trial_params(t)), t.user_attrs.get("harness.seed"))
               for t in trials if t.state != TrialState.FAIL}
    added = 0
    for group in ranked[:k]:
        model = group[0]
        key = config_key(model.user_attrs, trial_params(model))
        variant = model.user_attrs.get("harness.variant")
        for seed in seeds:
            if (key, seed) in present:
                continue
            study.enqueue_trial(dict(model.params), user_attrs={
                "harness.kind": "variant" if variant else "grid", "harness.seed": seed,
                "harness.variant": variant, "harness.rerun": True})
            added += 1
        params = ablation.decode({p: v for p, v in model.params.items() if p in ablation.spec.space})
        on_event(f"rerun: {describe(model.user_attrs, params)} with seeds {', '.join(map(str, seeds))}")
    return added


class _Monitor:
    """Prints a progress line whenever the study's counts change (multi-worker mode)."""

    def __init__(self, study, ablation: Ablation, every_s: float = 2.0, out: Callable[[str], None] = print):
        self.study, self.ablation, self.every_s, self.out = study, ablation, every_s, out
        self._stop = threading.Event()
        self._last = ""
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tick(self) -> None:
        line = progress_line(self.study, self.ablation)
        if line != self._last:
            self._last = line
            self.out(line)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.tick()
            except Exception:  # a busy database; the next tick will do
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _spawn_workers(args: list[str], n: int, log_dir: Path) -> list[subprocess.Popen]:
    from harness.sweep.execute import _die_with_parent

    log_dir.mkdir(parents=True, exist_ok=True)
    # N workers on one machine share its cores: unless the user chose, each trial's torch
    # gets cores / N threads, so the workers do not oversubscribe the CPU.
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // n))
    procs = []
    for i in range(n):
        log = open(log_dir / f"worker-{i}.log", "ab")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "sweep", *args, "--worker"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            env=dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=threads)))
        log.close()
    return procs


@optuna_warnings_hidden()
def sweep(
    ablation_file: str | Path,
    *,
    storage: str | None = None,
    workers: int = 1,
    n_trials: int | None = None,
    results_root: str | Path | None = None,
    study_name: str | None = None,
    rerun_top_k: int | None = None,
    seeds: str | None = None,
    worker_only: bool = False,
    quiet: bool = False,
    inline_trials: bool = False,
) -> SweepResult:
    """Run (or join, or continue) the study of an ablation file; returns its final state.

    ``inline_trials`` runs each trial inside its worker instead of a `harness run` child
    process (saves an interpreter start per trial; not with a pruner). Progress lines
    go to the ``harness.sweep.study`` logger (``quiet``: none), never to stdout.
    """
    out: Callable[[str], None] = (lambda _line: None) if quiet else (lambda line: logger.info("%s", line))
    if workers < 1:
        raise HarnessError("--workers must be at least 1")
    if seeds is not None and rerun_top_k is None:
        raise HarnessError("--seeds only goes with --rerun-top K")
    ablation = load_ablation(ablation_file)
    if inline_trials and ablation.spec.pruner.name != "none":
        raise HarnessError(f"{ablation_file}: pruner.name: pruning stops a trial's own process, so it cannot "
                           "go with --inline-trials")
    name, root, url = study_location(ablation, storage=storage, results_root=results_root, study_name=study_name)
    store = open_storage(url, ablation.spec.retry)
    study = open_study(ablation, store, study_name=name, n_trials=n_trials, enqueue_plan=not worker_only)
    sweep_dir = root / "sweeps" / name
    retry = retry_callback(ablation.spec.retry.max_retry)
    if rerun_top_k is not None and not worker_only:
        added = rerun_top(study, ablation, rerun_top_k, seeds, on_event=out)
        out(f"[{name}] enqueued {added} rerun trial(s)")
    if not worker_only:
        out(f"[{name}] storage {url}; runs under {root / 'runs'}; logs under {sweep_dir / 'logs'}")
        out(progress_line(study, ablation))
    if workers == 1:
        def event(line: str) -> None:
            out(f"[{name}] {line}")
            if not worker_only:
                out(progress_line(study, ablation))

        work(Context(ablation, store, study, root, sweep_dir, retry, on_event=event, inline=inline_trials))
    else:
        args = [str(ablation_file), "--storage", url, "--results", str(root), "--study-name", name]
        if inline_trials:
            args.append("--inline-trials")
        procs = _spawn_workers(args, workers, sweep_dir / "logs")
        try:
            # SIGTERM as Ctrl-C: the workers are stopped with SIGTERM in turn and record their
            # trials failed-and-retryable, instead of dying with this process by PDEATHSIG.
            with sigterm_as_interrupt(), _Monitor(study, ablation, out=out) as monitor:
                while any(p.poll() is None for p in procs):
                    time.sleep(1.0)
                monitor.tick()
        except BaseException:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                p.wait()
            raise
        bad = [i for i, p in enumerate(procs) if p.returncode != 0]
        if bad:
            from harness.sweep.execute import _last_line

            last = _last_line(sweep_dir / "logs" / f"worker-{bad[0]}.log")
            raise HarnessError(f"worker(s) {', '.join(map(str, bad))} exited with an error ({last}); see "
                               f"{sweep_dir / 'logs'}/worker-N.log")
    rows = trial_rows(study, ablation)
    result = SweepResult(name, url, counts(study), best_row(rows, ablation.spec.objective.direction), rows)
    if not worker_only:
        out(summary_table(result, ablation))
        _write_summary(sweep_dir, result)
    return result


def study_location(ablation: Ablation, *, storage: str | None, results_root: str | Path | None,
                   study_name: str | None) -> tuple[str, Path, str]:
    """(study name, results root, storage URL) of an ablation's study: the file's name and
    ``<results>/sweeps/<study>.db`` unless given."""
    name = study_name or ablation.name
    root = Path(results_root) if results_root is not None else results_dir()
    return name, root, storage or default_storage(root, name)


def summary_table(result: SweepResult, ablation: Ablation) -> str:
    metric = ablation.spec.objective.metric
    table = [[r["trial"], r["config"] + (" (rerun)" if r["rerun"] else ""), r["seed"], r["state"],
              "" if r["value"] is None else f"{r['value']:.6g}", r["run"] or ""] for r in result.trials]
    return tabulate(table, headers=["trial", "configuration", "seed", "state", metric, "run"], tablefmt="simple")


def _write_summary(sweep_dir: Path, result: SweepResult) -> None:
    from harness.files import atomic_write_json

    atomic_write_json(sweep_dir / "study.json", {
        "study": result.study, "storage": result.storage, "counts": result.counts,
        "best": result.best, "trials": result.trials,
    })
