"""Sweeps under signals: a trial killed as the OOM killer would is retried and says so; SIGTERM to the
sweep leaves no trial RUNNING; a report says when a completed trial's run folder is gone."""

import json
import signal
import subprocess
import sys
import time

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from harness.report.api import gone_runs
from tests.sweep.conftest import CE_ABLATION, TINY_SFT

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def _ablation(env, name, steps=6, epochs=3):
    path = env / f"{name}.yaml"
    path.write_text(CE_ABLATION.format(name=name, base=TINY_SFT, lrs="[5.0e-4]", seeds="[0]", steps=steps,
                                       epochs=epochs))
    return path


def _sweep(path, results, url, *extra):
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "sweep", str(path), "--results", str(results),
                             "--storage", url, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_checkpoint(results, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        found = list(results.glob("runs/*/*/checkpoints/step-00000001"))
        if found:
            return found[0].parent.parent
        time.sleep(0.1)
    raise AssertionError("no trial reached its first checkpoint")


@pytest.mark.slow
def test_a_trial_killed_by_a_signal_is_retried_and_records_the_signal(env):
    path, results, url = _ablation(env, "oom"), env / "results", f"sqlite:///{env}/oom.db"
    sweep = _sweep(path, results, url)
    run = _wait_for_checkpoint(results, sweep)
    trials = [p for p in psutil.Process(sweep.pid).children(recursive=True) if "run" in p.cmdline()]
    assert len(trials) == 1
    trials[0].send_signal(signal.SIGKILL)  # what the OOM killer does
    out, _ = sweep.communicate(timeout=1200)
    assert sweep.returncode == 0, out
    assert "killed by signal 9 (SIGKILL)" in out and "enqueued a retry" in out
    study = optuna.load_study(study_name="oom", storage=url)
    (failed,) = study.get_trials(states=(TrialState.FAIL,))
    assert failed.user_attrs["harness.error"] == "killed by signal 9 (SIGKILL)"
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 2  # the study is complete: the killed trial's retry finished it
    (retry,) = [t for t in done if t.system_attrs.get("failed_trial") == failed.number]
    assert retry.user_attrs["harness.run"] == str(run)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info.get("resumed_at")


@pytest.mark.slow
def test_sigterm_to_the_sweep_fails_its_trials_retryably_at_once(env):
    path, results, url = _ablation(env, "stopped"), env / "results", f"sqlite:///{env}/stopped.db"
    sweep = _sweep(path, results, url, "--workers", "2")
    _wait_for_checkpoint(results, sweep)
    sweep.send_signal(signal.SIGTERM)
    sweep.communicate(timeout=120)
    assert sweep.returncode != 0
    study = optuna.load_study(study_name="stopped", storage=url)
    assert not study.get_trials(states=(TrialState.RUNNING,)), "a trial was left RUNNING until the grace period"
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert failed and all("interrupted" in t.user_attrs.get("harness.error", "") for t in failed)
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert {t.system_attrs.get("failed_trial") for t in waiting} >= {t.number for t in failed}


def test_a_report_says_when_a_completed_trials_run_folder_is_gone(tmp_path):
    kept = tmp_path / "runs" / "x" / "aaaa-s0"
    kept.mkdir(parents=True)
    gone = tmp_path / "runs" / "x" / "bbbb-s0"
    study = tmp_path / "sweeps" / "s" / "study.json"
    study.parent.mkdir(parents=True)
    study.write_text(json.dumps({"trials": [
        {"trial": 0, "state": "complete", "run": str(kept)},
        {"trial": 1, "state": "complete", "run": str(gone)},
        {"trial": 2, "state": "fail", "run": str(tmp_path / "never")},
    ]}))
    assert gone_runs(tmp_path, "s") == [f"{gone}: the run folder is gone (trial 1 of study 's' completed in it)"]
