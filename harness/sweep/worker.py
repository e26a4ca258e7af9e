"""A worker: claim an enqueued trial, run it, report it; until the queue is drained.

Workers never ask Optuna for a brand-new trial (``study.ask()`` would create one
whenever the queue is momentarily empty, and several workers would overshoot the
requested count); every trial was enqueued when the study was created, so a worker
only *claims* WAITING trials, which the storage hands to exactly one process. A
point the sampler should draw is enqueued as an empty "ticket"; the sampler fills
its values when the worker suggests them. When nothing is waiting but trials still
run elsewhere, the worker waits: one of them may die, be retried, and need a worker.
"""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.errors import HarnessError
from harness.interrupts import sigterm_as_interrupt
from harness.sweep.ablation import Ablation, PlannedTrial, describe
from harness.sweep.execute import lookup, objective_value, run_trial
from harness.sweep.heartbeat import beating, fail_stale_trials
from harness.sweep.optuna_parts import build_sampler
from harness.sweep.space import Distribution, encode_choice


@dataclass
class Context:
    """What every trial of one worker needs."""

    ablation: Ablation
    storage: Any
    study: Any
    results_root: Path
    sweep_dir: Path
    retry_callback: Any
    on_event: Callable[[str], None] = print
    poll_s: float = 1.0
    inline: bool = False  # run trials in this process (no pruning); see execute.run_trial
    trials_run: list[int] = field(default_factory=list)


def claim(study, storage):
    """Atomically take one WAITING trial (as Optuna's own queue does), or None."""
    import optuna
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(study.study_name)
    for frozen in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                return optuna.trial.Trial(study, frozen._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def counts(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        key = trial.state.name.lower()
        out[key] = out.get(key, 0) + 1
    return out


@contextmanager
def _signals_blocked():
    """Hold SIGTERM and SIGINT back while a stopped trial is recorded (a second signal
    must not leave it RUNNING); they are delivered when the block ends."""
    held = {signal.SIGTERM, signal.SIGINT}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError):  # pragma: no cover - not POSIX
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def work(ctx: Context, *, max_trials: int | None = None) -> None:
    """Claim and run trials until none wait and none run (or ``max_trials`` ran here)."""
    retry = ctx.ablation.spec.retry
    with sigterm_as_interrupt():
        while max_trials is None or len(ctx.trials_run) < max_trials:
            for number in fail_stale_trials(ctx.study, ctx.storage, grace_period=retry.grace_period,
                                            retry_callback=ctx.retry_callback):
                ctx.on_event(f"trial {number}: its worker stopped beating; failed it and enqueued a retry")
            trial = claim(ctx.study, ctx.storage)
            if trial is None:
                c = counts(ctx.study)
                if not c.get("running") and not c.get("waiting"):
                    return
                time.sleep(ctx.poll_s)
                continue
            ctx.trials_run.append(trial.number)
            with beating(ctx.storage, trial._trial_id, retry.heartbeat_interval):
                run_claimed(ctx, trial)


def suggest(trial, path: str, dist: Distribution) -> Any:
    """Optuna's value for one space entry: the enqueued one, or one the sampler draws."""
    if dist.type == "categorical":
        return trial.suggest_categorical(path, [encode_choice(c) for c in dist.choices])
    if dist.type == "int":
        return trial.suggest_int(path, int(dist.low), int(dist.high), step=int(dist.step or 1), log=dist.log)
    return trial.suggest_float(path, dist.low, dist.high, step=dist.step, log=dist.log)


def _params(ctx: Context, trial, kind: str) -> dict[str, Any]:
    """The trial's recipe values: none for a variant, suggested (fixed or sampled) otherwise."""
    if kind == "variant":
        return {}
    if kind == "sampled" and not trial.params:
        # Seeded by trial number: reproducible, yet two workers never draw alike.
        sampler = ctx.ablation.spec.sampler
        ctx.study.sampler = build_sampler(sampler.name, sampler.options, worker=str(trial.number))
    stored = {path: suggest(trial, path, dist) for path, dist in ctx.ablation.spec.space.items()}
    return ctx.ablation.decode(stored)


def prepare(ctx: Context, trial) -> tuple[int, str | None, dict[str, Any]]:
    """(seed, variant, recipe values) of a claimed trial; a freshly drawn point enqueues its other seeds."""
    attrs = dict(trial.user_attrs)
    kind, seed, variant = attrs.get("harness.kind"), attrs.get("harness.seed"), attrs.get("harness.variant")
    if kind is None:
        raise HarnessError(f"trial {trial.number} of study '{ctx.study.study_name}' was not enqueued by harness sweep")
    params = _params(ctx, trial, kind)
    if kind == "sampled" and not attrs.get("harness.siblings"):
        stored = {k: trial.params[k] for k in params}
        for other in ctx.ablation.seeds[1:]:
            sibling = dict(PlannedTrial("sampled", other).user_attrs(), **{"harness.siblings": True})
            ctx.study.enqueue_trial(stored, user_attrs=sibling)
        trial.set_user_attr("harness.siblings", True)
    return seed, variant, params


def run_claimed(ctx: Context, trial) -> None:
    """Run one claimed trial to COMPLETE, PRUNED or FAIL."""
    from optuna.trial import TrialState

    ablation, study = ctx.ablation, ctx.study
    attrs = dict(trial.user_attrs)
    try:
        seed, variant, params = prepare(ctx, trial)
        recipe = ablation.recipe(variant, params, seed)
    except HarnessError as exc:
        study.tell(trial, state=TrialState.FAIL)
        raise HarnessError(f"trial {trial.number}: {exc}") from None
    label = describe(attrs, params)
    trial.set_user_attr("harness.run", str(_run_dir(ctx, recipe)))
    ctx.on_event(f"trial {trial.number} started: {label}, seed {seed}")
    pruner_metric = ablation.spec.pruner.metric
    use_pruner = ablation.spec.pruner.name != "none"

    def on_metrics(records: list[dict[str, Any]]) -> bool:
        for record in records:
            try:
                value, step = float(lookup(record, pruner_metric)), int(record["step"])
            except (KeyError, TypeError, ValueError):
                continue
            trial.report(value, step)
        return trial.should_prune()

    try:
        outcome = run_trial(recipe, results_root=ctx.results_root, recipe_dir=ctx.sweep_dir / "recipes",
                            log_file=ctx.sweep_dir / "logs" / f"trial-{trial.number:04d}.log",
                            on_metrics=on_metrics if use_pruner else None, inline=ctx.inline,
                            trial=(study.study_name, trial.number))
    except KeyboardInterrupt:
        # Stopped (Ctrl-C, SIGTERM): failed and retryable at once, so the next `harness sweep`
        # (or another worker) picks it up without waiting out the heartbeat grace period.
        with _signals_blocked():
            trial.set_user_attr("harness.error", "interrupted: its worker was stopped")
            study.tell(trial, state=TrialState.FAIL)
            ctx.retry_callback(study, ctx.storage.get_trial(trial._trial_id))
        raise
    tag_run(outcome.run, ablation, study.study_name, trial.number, variant, params, seed)
    if outcome.state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
        ctx.on_event(f"trial {trial.number} pruned: {label}, seed {seed}")
        return
    if outcome.state == "killed":
        trial.set_user_attr("harness.error", outcome.error)
        study.tell(trial, state=TrialState.FAIL)
        frozen = ctx.storage.get_trial(trial._trial_id)
        retried = len(frozen.system_attrs.get("retry_history", [])) < ctx.ablation.spec.retry.max_retry
        ctx.retry_callback(study, frozen)  # bounded by retry.max_retry, shared with dead-worker retries
        then = "enqueued a retry" if retried else f"no retries left (retry.max_retry = {ctx.ablation.spec.retry.max_retry})"
        ctx.on_event(f"trial {trial.number} {outcome.error}: {label}, seed {seed}; {then}")
        return
    if outcome.state == "failed":
        trial.set_user_attr("harness.error", outcome.error)
        study.tell(trial, state=TrialState.FAIL)
        ctx.on_event(f"trial {trial.number} failed: {label}, seed {seed}: {outcome.error}")
        return
    try:
        value = objective_value(outcome.run, ablation.spec.objective.metric, ablation_file=str(ablation.path))
    except HarnessError:
        study.tell(trial, state=TrialState.FAIL)
        raise  # the same metric is missing from every trial: stop instead of failing them all
    study.tell(trial, value)
    reused = " (reused an existing run)" if outcome.reused else ""
    ctx.on_event(f"trial {trial.number} done: {label}, seed {seed}: {ablation.spec.objective.metric} = {value:.6g}{reused}")


def _run_dir(ctx: Context, recipe) -> Path:
    from harness.rundir import run_path

    return run_path(ctx.results_root, recipe.name, recipe.hash, recipe.seed)


def tag_run(run, ablation: Ablation, study_name: str, number: int, variant: str | None, params: dict[str, Any],
            seed: int) -> None:
    """Mark the run directory with the study, variant, trial and params (the reporter groups by these).

    A run shared by two studies (both include the AGP baseline, say) keeps the
    latest study in the top-level fields and every study under ``studies``.
    """
    if not run.info_file.exists():
        return
    recorded = ablation.variant_params(variant) if variant else dict(params)
    entry = {"variant": variant, "trial": number, "params": recorded, "seed": seed}
    studies = dict(run.info().get("studies") or {})
    studies[study_name] = entry
    run.update(study=study_name, variant=variant, trial=number, params=recorded, studies=studies)
