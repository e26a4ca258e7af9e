"""Noticing dead workers: heartbeats while a trial runs, and retrying stale trials.

RDB storages (SQLite, PostgreSQL, MySQL) have Optuna's own heartbeat table and
``fail_stale_trials``; a stale trial is marked FAIL and Optuna's
``RetryHeartbeatStaleTrialCallback`` enqueues a copy (same params and user
attributes, so the same variant and seed) as WAITING. The journal storage has no
heartbeats, so for it the harness records one in the trial's system attributes
(``harness.heartbeat``, wall-clock seconds) and fails stale trials itself, calling
the same retry callback. Wall clocks of the machines must roughly agree; the grace
period is meant to be minutes.
"""

from __future__ import annotations

import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

HEARTBEAT_ATTR = "harness.heartbeat"


def _native(storage: Any) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage)


@contextmanager
def beating(storage: Any, trial_id: int, interval: float) -> Iterator[None]:
    """Record heartbeats for ``trial_id`` every ``interval`` s while the block runs."""
    if _native(storage):
        from optuna.storages._heartbeat import get_heartbeat_thread

        with get_heartbeat_thread(trial_id, storage):
            yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                storage.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
            except Exception:  # the trial finished meanwhile; nothing left to keep alive
                return
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def retry_callback(max_retry: int):
    """Optuna's callback that enqueues a copy of a dead worker's trial (same params and attributes)."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=max_retry)


def fail_stale_trials(study: Any, storage: Any, *, grace_period: float, retry_callback: Any) -> list[int]:
    """Mark RUNNING trials whose heartbeat stopped as FAIL and retry them; returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    if _native(storage):
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        return sorted(before - after)
    failed = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = trial.system_attrs.get(HEARTBEAT_ATTR)
        if last is None or now - float(last) <= grace_period:
            continue
        try:
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        failed.append(trial.number)
        retry_callback(study, storage.get_trial(trial._trial_id))
    return failed
