"""Real tiny studies: trials are runs, reused, rerun with fresh seeds, shared by processes, survive SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from harness.sweep.study import sweep
from tests.sweep.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")]


def load(url: str, name: str):
    return optuna.load_study(study_name=name, storage=url)


def configs(study, states=(TrialState.COMPLETE,)):
    out = []
    for t in study.get_trials(states=states):
        out.append((t.user_attrs.get("harness.variant"), json.dumps(t.params, sort_keys=True), t.user_attrs["harness.seed"]))
    return out


def run_dirs(results: Path) -> list[Path]:
    return sorted(p.parent for p in results.glob("runs/*/*/run.json"))


def test_a_tiny_study_tags_its_runs_reuses_them_and_reruns_the_best(env, write_ablation):
    path = write_ablation(name="tiny_study", lrs="[5.0e-4]")
    results = env / "results"
    first = sweep(path, results_root=results, quiet=True)
    assert first.counts == {"complete": 2}
    runs = run_dirs(results)
    assert len(runs) == 2
    for run in runs:
        info = json.loads((run / "run.json").read_text())
        assert info["status"] == "finished" and info["study"] == "tiny_study"
        row = next(r for r in first.trials if r["run"] == str(run))
        assert info["trial"] == row["trial"]
        assert row["value"] == info["summary"]["final_losses"]["ce"]  # objective read from run.json
        if info["variant"] == "lr_high":
            assert info["params"] == {"train.lr": 2e-3}
        else:
            assert info["variant"] is None and info["params"] == {"train.lr": 5e-4}

    again = sweep(path, results_root=results, quiet=True)  # the study is done: nothing new runs
    assert again.counts == {"complete": 2} and run_dirs(results) == runs

    other = sweep(path, results_root=results, study_name="another_study", quiet=True)
    assert other.counts == {"complete": 2} and run_dirs(results) == runs  # existing runs are reused
    assert json.loads((runs[0] / "run.json").read_text())["studies"].keys() == {"tiny_study", "another_study"}

    reran = sweep(path, results_root=results, rerun_top_k=1, seeds="1", quiet=True)
    assert reran.counts == {"complete": 3}
    extra = [r for r in reran.trials if r["rerun"]]
    assert len(extra) == 1 and extra[0]["seed"] == 1
    best_seed0 = min((r for r in first.trials), key=lambda r: r["value"])
    assert extra[0]["config"] == best_seed0["config"]
    assert len(run_dirs(results)) == 3


def _sweep_cmd(path, results, url, *extra):
    return [sys.executable, "-m", "harness.cli", "sweep", str(path), "--results", str(results), "--storage", url, *extra]


def test_two_processes_on_one_storage_run_each_trial_once(env, write_ablation):
    path = write_ablation(name="shared", lrs="[1.0e-4, 5.0e-4, 1.0e-3]")
    results = env / "results"
    url = f"sqlite:///{env}/shared.db"
    procs = [subprocess.Popen(_sweep_cmd(path, results, url, *extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=dict(os.environ))
             for extra in ([], ["--workers", "2"])]
    outputs = [p.communicate(timeout=540)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    study = load(url, "shared")
    done = configs(study)
    assert len(done) == 4 and len(set(done)) == 4, done
    assert not study.get_trials(states=(TrialState.FAIL, TrialState.WAITING, TrialState.RUNNING))
    assert len(run_dirs(results)) == 4
    logs = sorted((results / "sweeps" / "shared" / "logs").glob("trial-*.log"))
    assert len(logs) == 4  # one log per trial: no trial was started twice


def test_a_worker_killed_mid_trial_is_retried_and_its_run_resumed(env, write_ablation):
    # 40 steps, so the run is still training when its worker is killed after the first
    # checkpoint (with 4 steps it sometimes finished first on an idle machine).
    path = write_ablation(name="killed", lrs="[5.0e-4]", steps=40, epochs=20)
    results = env / "results"
    url = f"sqlite:///{env}/killed.db"
    victim = subprocess.Popen(_sweep_cmd(path, results, url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=dict(os.environ))
    deadline = time.time() + 300
    checkpoint = None
    while time.time() < deadline and victim.poll() is None and checkpoint is None:
        found = list(results.glob("runs/*/*/checkpoints/step-00000001"))
        checkpoint = found[0] if found else None
        time.sleep(0.1)
    assert checkpoint is not None, "no trial reached its first checkpoint"
    children = psutil.Process(victim.pid).children(recursive=True)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    psutil.wait_procs(children, timeout=10)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]  # died with its worker
    killed_run = checkpoint.parent.parent
    assert json.loads((killed_run / "run.json").read_text())["status"] == "running"

    survivor = subprocess.run(_sweep_cmd(path, results, url), capture_output=True, text=True, timeout=400)
    assert survivor.returncode == 0, survivor.stdout + survivor.stderr
    assert "stopped beating" in survivor.stdout
    study = load(url, "killed")
    done = configs(study)
    assert len(done) == 2 and len(set(done)) == 2  # exactly the requested trials, no duplicates
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 1
    retried = [t for t in study.get_trials(states=(TrialState.COMPLETE,)) if t.system_attrs.get("failed_trial") == failed[0].number]
    assert len(retried) == 1 and retried[0].user_attrs["harness.run"] == str(killed_run)
    info = json.loads((killed_run / "run.json").read_text())
    assert info["status"] == "finished" and info.get("resumed_at")  # continued from its checkpoint
    assert info["summary"]["steps"] == 40


def test_a_trial_is_pruned_from_its_metrics_while_it_trains(env, write_ablation):
    # ThresholdPruner(upper=0) prunes at the first reported loss, deterministically. The run
    # must still be training when the SIGTERM comes: 8 samples in batches of 4 are 2 steps an
    # epoch, so 30 epochs give 60 steps (with 1 epoch it finished first on an idle machine).
    path = write_ablation(name="pruned", steps=60, epochs=30,
                          extra="pruner: {name: threshold, upper: 0.0, metric: loss.ce}\n")
    results = env / "results"
    result = sweep(path, results_root=results, n_trials=1, quiet=True)
    assert result.counts == {"pruned": 1}
    (run,) = run_dirs(results)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted"  # stopped by SIGTERM before its 60 steps
    assert len([r for r in (run / "metrics.jsonl").read_text().splitlines() if r.strip()]) < 60
    study = load(result.storage, "pruned")
    assert list(study.trials[0].intermediate_values)[0] == 1


def test_inline_trials_run_inside_the_worker_and_give_the_same_runs(env, write_ablation):
    """--inline-trials: no `harness run` child per trial; same run directories and objective values."""
    path = write_ablation(name="inline", lrs="[5.0e-4]")
    child = sweep(path, results_root=env / "child", quiet=True)
    inline = sweep(path, results_root=env / "inline", quiet=True, inline_trials=True)
    assert inline.counts == child.counts == {"complete": 2}
    assert sorted((r["config"], r["value"]) for r in inline.trials) == sorted((r["config"], r["value"]) for r in child.trials)
    assert [p.name for p in run_dirs(env / "inline")] == [p.name for p in run_dirs(env / "child")]
    logs = sorted((env / "inline" / "sweeps" / "inline" / "logs").glob("trial-*.log"))
    assert len(logs) == 2 and all(log.read_text().startswith("$ (inline) harness run") for log in logs)


def test_inline_trials_refuse_a_pruner(env, write_ablation):
    from harness.errors import HarnessError

    path = write_ablation(name="inline_pruned", extra="pruner: {name: median}\n")
    with pytest.raises(HarnessError, match="pruner.name: .*--inline-trials"):
        sweep(path, results_root=env / "results", quiet=True, inline_trials=True)


MIXED_ORDER_ABLATION = """\
name: mixed_order
base: {base}
overrides:
  data.train: {{name: synthetic, seed: 0, train: 8, eval: 4}}
  train: {{max_steps: 2, batch_size: 4, grad_accum: 1}}
  eval: {{enabled: false}}
  teachers.perception_teacher.sft.max_steps: 2
  teachers.reasoning_teacher.sft.max_steps: 2
  teachers.planning_teacher.sft.max_steps: 2
variants:
  agp: {{}}
seeds: [0]
objective: {{metric: final_losses.ce, direction: minimize}}
"""


def test_inline_and_child_trials_of_a_multi_objective_recipe_train_the_same_weights(env, write_ablation):
    """The base lists its objectives perception, reasoning, planning (unsorted); a child trial
    runs the sorted recipe.resolved.yaml, an inline one the loaded recipe: the same order
    either way, so the same weights bit for bit (issue 20)."""
    from safetensors.torch import load_file

    base = REPO / "recipes" / "tiny" / "agp_internvl.yaml"
    path = write_ablation(name="mixed_order", text=MIXED_ORDER_ABLATION.format(base=base))
    child = sweep(path, results_root=env / "child", quiet=True)
    inline = sweep(path, results_root=env / "inline", quiet=True, inline_trials=True)
    assert inline.counts == child.counts == {"complete": 1}
    (a,), (b,) = run_dirs(env / "child"), run_dirs(env / "inline")
    assert a.name == b.name
    wa, wb = load_file(str(a / "student" / "model.safetensors")), load_file(str(b / "student" / "model.safetensors"))
    assert set(wa) == set(wb) and all((wa[k] == wb[k]).all() for k in wa)
