"""Sweep trials as tracker runs grouped by study, and optuna-dashboard on the study's storage."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from harness.sweep.study import sweep

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")]

TRACKED = "  train: {max_steps: 2, batch_size: 4, grad_accum: 1, trackers: [tensorboard]}\n"


def tracked_ablation(write_ablation, name: str):
    path = write_ablation(name=name, lrs="[5.0e-4]")
    text = path.read_text()
    text = text.replace("  train: {max_steps: 2, epochs: 1, batch_size: 4, grad_accum: 1, checkpoint_every: 1}\n",
                        TRACKED)
    assert "trackers" in text
    path.write_text(text)
    return path


@pytest.mark.parametrize("inline", [False, True], ids=["child", "inline"])
def test_each_trial_is_its_own_tracker_run_under_its_study(env, write_ablation, inline):
    path = tracked_ablation(write_ablation, f"tracked_{'inline' if inline else 'child'}")
    results = env / "results"
    result = sweep(path, results_root=results, quiet=True, inline_trials=inline)
    assert result.counts == {"complete": 2}
    study = result.study
    for row in result.trials:
        run = json.loads((Path(row["run"]) / "run.json").read_text())
        folder = f"trial-{row['trial']:04d}-{run['recipe_name']}-{os.path.basename(row['run'])}"
        events = results / "tensorboard" / study / folder
        assert list(events.glob("events.out.tfevents.*")), f"no events for trial {row['trial']} in {events}"
        (params_file,) = events.glob("*/hparams.yml")
        params = yaml.safe_load(params_file.read_text())
        assert params["study"] == study and params["trial"] == row["trial"]
        assert params["config_hash"] == run["config_hash"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_serves_the_study_from_its_storage(env, write_ablation):
    path = write_ablation(name="watched", lrs="[5.0e-4]")
    results = env / "results"
    sweep(path, results_root=results, quiet=True, inline_trials=True)
    port = _free_port()
    cmd = [sys.executable, "-m", "harness.cli", "sweep", str(path), "--results", str(results), "--dashboard",
           "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        studies = None
        deadline = time.time() + 120
        while time.time() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as reply:
                    studies = json.loads(reply.read())
                break
            except OSError:
                time.sleep(0.5)
        assert studies is not None, server.stdout.read() if server.poll() is not None else "no answer in time"
        (study,) = studies["study_summaries"]
        assert study["study_name"] == "watched"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{study['study_id']}", timeout=5) as reply:
            detail = json.loads(reply.read())
        assert len(detail["trials"]) == 2 and {t["state"] for t in detail["trials"]} == {"Complete"}
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/dashboard" in out
