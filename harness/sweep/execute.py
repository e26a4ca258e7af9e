"""Running one trial's recipe as an ordinary run, in a child process.

Why a child process per trial: a trial must be stoppable (pruning sends SIGTERM,
which the runner records as "interrupted") and must die with its worker (a worker
SIGKILLed mid-trial must not leave an orphan writing into a run directory that the
retried trial resumes). On Linux the child gets ``PR_SET_PDEATHSIG`` so the kernel
kills it when its worker dies. The cost is one interpreter start per trial
(benchmarks/bench_sweep.py reports it).

The child is plain ``harness run RECIPE --results ROOT``; a run directory that is
already finished is reused without starting anything, and an unfinished one (its
worker died) is continued with ``--resume`` from its last checkpoint.
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.errors import HarnessError
from harness.files import atomic_write_text
from harness.locks import waiting_lock
from harness.logs import records_into
from harness.recipe import LoadedRecipe
from harness.rundir import RunDir, run_path

PR_SET_PDEATHSIG = 1


def lookup(mapping: Any, dotted: str) -> Any:
    """``mapping["a"]["b"]`` for ``"a.b"``; KeyError when any part is missing."""
    node = mapping
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def leaf_paths(mapping: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the numeric leaves (to list what a missing metric could have been)."""
    out: list[str] = []
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            out += leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(mapping, (int, float)) and not isinstance(mapping, bool):
        out.append(prefix)
    return out


def objective_value(run: RunDir, metric: str, *, ablation_file: str) -> float:
    """The objective read from a finished run's summary; a clear one-line error if absent."""
    from harness.registry import did_you_mean

    summary = run.info().get("summary") or {}
    try:
        value = lookup(summary, metric)
    except KeyError:
        known = leaf_paths(summary)
        raise HarnessError(
            f"{run.info_file}: summary has no '{metric}' (objective.metric in {ablation_file})"
            f"{did_you_mean(metric, known)}; it has: {', '.join(known) or 'nothing'}"
        ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        raise HarnessError(f"{run.info_file}: summary '{metric}' is {value!r}, not a number (objective.metric in {ablation_file})")
    return float(value)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


@dataclass
class Outcome:
    state: str  # "finished" | "pruned" | "failed" | "killed" (by a signal: worth a retry)
    run: RunDir
    reused: bool = False
    error: str | None = None
    seconds: float = 0.0


def run_trial(
    recipe: LoadedRecipe,
    *,
    results_root: Path,
    recipe_dir: Path,
    log_file: Path,
    on_metrics: Callable[[list[dict[str, Any]]], bool] | None = None,
    poll_s: float = 0.5,
    inline: bool = False,
    trial: tuple[str, int] | None = None,
) -> Outcome:
    """Run (or reuse) the recipe's run directory; ``on_metrics`` returning True prunes it.

    ``trial`` is (study, trial number): the run tells its trackers which trial it is.

    ``inline`` runs it in this process instead of a `harness run` child: no pruning,
    and a crash takes the worker with it (its heartbeat then hands the trial on), but
    no interpreter start and import of torch and transformers per trial (about 5 s on
    a CPU core, as long as a tiny run's training).
    """
    run = RunDir(run_path(results_root, recipe.name, recipe.hash, recipe.seed))
    if run.status == "finished":
        return Outcome("finished", run, reused=True)
    with trial_lock(run.path):  # another study's trial may be running this very recipe and seed
        if run.status == "finished":
            return Outcome("finished", run, reused=True)
        if inline:
            return _run_here(recipe, run, results_root, recipe_dir, log_file, trial)
        return _launch(recipe, run, results_root, recipe_dir, log_file, on_metrics, poll_s, trial)


def trial_lock(run_dir: Path):
    """An exclusive lock per run directory, held while a trial runs it (released if its worker dies).

    It waits (another study's trial of the same recipe and seed finishes first); the
    run itself takes :func:`harness.rundir.run_lock` for its whole life, a different file.
    """
    return waiting_lock(run_dir.parent / f".{run_dir.name}.trial.lock")


def _write_recipe(recipe: LoadedRecipe, recipe_dir: Path) -> Path:
    """The trial's resolved recipe, kept under the sweep's recipes/ folder (the record of what ran)."""
    recipe_file = recipe_dir / f"{recipe.name}-{recipe.hash[:8]}-s{recipe.seed}.yaml"
    atomic_write_text(recipe_file, recipe.to_yaml())
    return recipe_file


def _launch(recipe: LoadedRecipe, run: RunDir, results_root: Path, recipe_dir: Path, log_file: Path,
            on_metrics, poll_s: float, trial: tuple[str, int] | None = None) -> Outcome:
    started = time.perf_counter()
    recipe_file = _write_recipe(recipe, recipe_dir)
    cmd = [sys.executable, "-m", "harness.cli", "run", str(recipe_file), "--results", str(results_root), "--quiet"]
    if trial is not None:
        cmd += ["--study", trial[0], "--trial", str(trial[1])]
    if run.path.exists():
        cmd.append("--resume")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                                 env=dict(os.environ, PYTHONUNBUFFERED="1"))
        seen = 0
        pruned = False
        try:
            while child.poll() is None:
                time.sleep(poll_s)
                if on_metrics is not None and not pruned:
                    records = run.metrics()
                    if len(records) > seen:
                        new, seen = records[seen:], len(records)
                        if on_metrics(new):
                            pruned = True
                            child.send_signal(signal.SIGTERM)
        except BaseException:
            _stop(child)
            raise
    seconds = time.perf_counter() - started
    if pruned:
        return Outcome("pruned", run, seconds=seconds)
    if child.returncode == 0 and run.status == "finished":
        return Outcome("finished", run, seconds=seconds)
    killed = killed_by(child.returncode, run)
    if killed is not None:
        return Outcome("killed", run, error=killed, seconds=seconds)
    return Outcome("failed", run, error=_last_line(log_file) or f"exit code {child.returncode}", seconds=seconds)


def killed_by(returncode: int, run: RunDir) -> str | None:
    """``"killed by signal 9 (SIGKILL)"`` when the trial's process died of a signal, else None.

    Why it matters: a signal (the OOM killer's SIGKILL, a scheduler's SIGTERM) says
    nothing about the trial's configuration, so such a trial is retried, not failed.
    The child either died of the signal (a negative return code) or caught SIGTERM,
    marked its run interrupted and exited 130.
    """
    if returncode < 0:
        number = -returncode
    elif returncode == 130 and run.status == "interrupted":
        found = re.search(r"signal (\d+)", str(run.info().get("error") or ""))
        number = int(found.group(1)) if found else int(signal.SIGINT)
    else:
        return None
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown"
    return f"killed by signal {number} ({name})"


def _run_here(recipe: LoadedRecipe, run: RunDir, results_root: Path, recipe_dir: Path, log_file: Path,
              trial: tuple[str, int] | None = None) -> Outcome:
    """The trial in this process, its log records into the trial's log as a child's output would go.

    Only the harness's own logger is pointed at the log, for the trial's duration
    (:func:`records_into`); the process's stdout and stderr are left alone.
    """
    from harness.runner import run_recipe

    started = time.perf_counter()
    recipe_file = _write_recipe(recipe, recipe_dir)
    resume = run.path.exists()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", encoding="utf-8") as log, records_into(log):
        log.write(f"$ (inline) harness run {recipe_file} --results {results_root} --quiet"
                  f"{' --resume' if resume else ''}\n")
        log.flush()
        try:
            study, number = trial if trial is not None else (None, None)
            run_recipe(recipe, results_root=results_root, resume=resume, progress=False, study=study, trial=number)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a failed trial, not a failed worker
            import traceback

            traceback.print_exc(file=log)
            error = " ".join(str(exc).split())[:300] or type(exc).__name__
            return Outcome("failed", run, error=error, seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if run.status == "finished":
        return Outcome("finished", run, seconds=seconds)
    return Outcome("failed", run, error=f"run ended with status {run.status}", seconds=seconds)


def _stop(child: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM (the runner marks the run interrupted), then SIGKILL if it lingers."""
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(grace_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""
