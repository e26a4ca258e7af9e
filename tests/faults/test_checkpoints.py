"""Checkpoints: a planted pickle never runs, a damaged newest one falls back, a kill before the
first checkpoint does not repeat steps, and a run folder has one writer."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from harness import cli
from harness.integrity import CorruptArtifact
from harness.recipe import load_recipe
from harness.rundir import RunDir, open_run, run_lock, run_path
from harness.train.checkpoint import UnsafeCheckpoint, load_checkpoint, resume_point, save_checkpoint
from harness.train.seeding import rng_state, seed_everything, set_rng_state

from .injection import flip_byte, plant_malicious_pickle, truncate


def test_a_planted_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    folder = plant_malicious_pickle(tmp_path / "checkpoints" / "step-99999999", marker)
    with pytest.raises(UnsafeCheckpoint, match="refused: it holds more than tensors and plain data") as caught:
        load_checkpoint(folder)
    assert "\n" not in str(caught.value)
    with pytest.raises(UnsafeCheckpoint):
        resume_point(tmp_path)  # tampering stops the resume; it is not skipped silently
    assert not marker.exists()


def test_a_planted_pickle_without_checksums_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    save_checkpoint(tmp_path, 2, {"step": 2, "w": torch.ones(2)})
    folder = plant_malicious_pickle(tmp_path / "checkpoints" / "step-99999999", marker)
    (folder / "checksums.json").unlink()
    path, state = resume_point(tmp_path)
    assert path.name == "step-00000002" and state["step"] == 2
    assert not marker.exists() and not folder.exists()


def test_rng_and_optimizer_state_load_with_weights_only():
    generator = seed_everything(5)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    state = {"rng": rng_state(generator), "optimizer": optimizer.state_dict()}
    expected = torch.rand(3)
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    set_rng_state(loaded["rng"], generator)
    assert torch.equal(torch.rand(3), expected)
    optimizer.load_state_dict(loaded["optimizer"])


@pytest.mark.parametrize("damage", [flip_byte, truncate, lambda p: p.unlink()], ids=["flipped", "truncated", "deleted"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, damage, caplog):
    save_checkpoint(tmp_path, 1, {"step": 1, "w": torch.full((64,), 1.0)})
    save_checkpoint(tmp_path, 2, {"step": 2, "w": torch.full((64,), 2.0)})
    newest = tmp_path / "checkpoints" / "step-00000002"
    damage(newest / "state.pt")
    if not (newest / "state.pt").exists():  # a deleted state file: the folder is not a checkpoint
        (newest / "state.pt").write_bytes(b"")
    with pytest.raises(CorruptArtifact, match="step-00000002"):
        load_checkpoint(newest)
    path, state = resume_point(tmp_path)
    assert path.name == "step-00000001" and torch.equal(state["w"], torch.full((64,), 1.0))
    assert "step-00000002" in caplog.text and not newest.exists()


def _cmd(recipe, results, *extra):
    return [sys.executable, "-m", "harness.cli", "run", str(recipe), "--results", str(results), "--quiet", *extra]


def test_resume_of_a_run_holding_a_planted_pickle_exits_2(ce_recipe, env, capsys):
    recipe = ce_recipe(steps=2)
    loaded = load_recipe(recipe)
    results = env / "results"
    opened = open_run(results, recipe_name=loaded.name, config_hash=loaded.hash, seed=loaded.seed,
                      resolved_yaml=loaded.to_yaml())
    opened.run.interrupt("killed")
    opened.release()
    marker = env / "pwned"
    plant_malicious_pickle(opened.run.path / "checkpoints" / "step-00000001", marker)
    code = cli.main(["run", str(recipe), "--results", str(results), "--quiet", "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "refused" in err and "Traceback" not in err
    assert not marker.exists()
    assert RunDir(opened.run.path).status == "failed"


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_logs_each_step_once(ce_recipe, env):
    recipe = ce_recipe(name="early", steps=16, every=0)
    results = env / "results"
    victim = subprocess.Popen(_cmd(recipe, results), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    metrics = None
    while time.time() < deadline and victim.poll() is None:
        found = list(results.glob("runs/early/*/metrics.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 3:
            metrics = found[0]
            break
        time.sleep(0.05)
    assert metrics is not None, "the run logged no steps"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not list(metrics.parent.glob("checkpoints/step-*"))
    resumed = subprocess.run(_cmd(recipe, results, "--resume"), capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stderr
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == list(range(1, 17))


def test_a_second_writer_is_refused_naming_the_holder(ce_recipe, env, capsys):
    recipe = ce_recipe(name="held")
    loaded = load_recipe(recipe)
    results = env / "results"
    folder = run_path(results, loaded.name, loaded.hash, loaded.seed)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from harness.rundir import run_lock; lock = run_lock(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(60)"), str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for extra in ([], ["--resume"], ["--force"]):
            code = cli.main(["run", str(recipe), "--results", str(results), "--quiet", *extra])
            err = capsys.readouterr().err
            assert code == 2 and err.count("\n") == 1, err
            assert f"in use by pid {holder.pid}" in err and "Traceback" not in err
        assert not folder.exists()  # the refused runs wrote nothing
    finally:
        holder.kill()
        holder.wait()
    with run_lock(folder):  # the kernel released the dead holder's lock
        pass


def test_two_runs_opening_one_folder_at_once_never_traceback(ce_recipe, env):
    recipe = ce_recipe(name="race", steps=1)
    results = env / "results"
    script = ("import sys; from harness.recipe import load_recipe; from harness.rundir import open_run\n"
              "from harness.errors import HarnessError\n"
              "r = load_recipe(sys.argv[1])\n"
              "try:\n"
              "    o = open_run(sys.argv[2], recipe_name=r.name, config_hash=r.hash, seed=r.seed, resolved_yaml=r.to_yaml())\n"
              "    print('opened', flush=True); import time; time.sleep(2)\n"
              "except HarnessError as e:\n"
              "    print('refused', e, flush=True)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(recipe), str(results)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert all("Traceback" not in err for _, err in outs)
    kinds = sorted(out.split()[0] for out, _ in outs)
    assert kinds.count("opened") == 1, outs  # one writer; the others were told who holds it or that it exists
    assert all(k in ("opened", "refused") for k in kinds)


def test_temporary_folders_of_killed_saves_are_removed_on_resume(ce_recipe, env):
    from harness.train.checkpoint import clean_temporaries

    half = env / "run" / "checkpoints" / ".step-00000003.abcd"
    half.mkdir(parents=True)
    (half / "state.pt").write_bytes(b"torn")
    clean_temporaries(env / "run")
    assert not half.exists()
