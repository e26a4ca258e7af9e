"""`harness run` on the tiny zoo: caching, resume after SIGKILL, NaN policy, outputs."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from harness.errors import HarnessError
from harness.files import read_jsonl
from harness.recipe import load_recipe
from harness.registry import LOSSES
from harness.runner import prepare, run_recipe
from harness.signals.losses import Loss
from harness.train.telemetry import WALL_CLOCK_FIELDS

pytestmark = pytest.mark.slow


def _without_wall_clock(path: Path) -> list[dict]:
    """metrics.jsonl's records less the fields that time the steps (they differ between any two runs)."""
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK_FIELDS} for r in read_jsonl(path)]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def test_cached_and_live_targets_give_the_same_losses(tiny_recipe):
    cached = prepare(load_recipe(tiny_recipe("c", cache="disk")), progress=False)
    live = prepare(load_recipe(tiny_recipe("l", cache="live")), progress=False)
    from harness.data.collate import collate_train

    samples = cached.samples[:3]
    batch = collate_train(samples, cached.student)
    t_cached = cached.targets.for_batch(samples, batch)
    t_live = live.targets.for_batch(samples, batch)
    assert set(t_cached) == set(t_live) == {"perception", "reasoning", "planning"}
    valid = batch.attention_mask.bool()
    region = valid[:, :, None] & valid[:, None, :]  # padded rows and columns are never compared
    for name in t_cached:
        for a, b in zip(t_cached[name], t_live[name]):
            assert a.shape == b.shape
            assert torch.allclose(a[region], b.float()[region], atol=2e-3, rtol=1e-2)
    out = cached.objectives.forward_student(batch)
    l_cached = cached.objectives.losses(out, batch, t_cached)
    l_live = cached.objectives.losses(out, batch, t_live)
    for name in l_cached:
        assert torch.allclose(l_cached[name], l_live[name], rtol=1e-2, atol=1e-9), name


def test_resume_after_sigkill_matches_an_uninterrupted_run(tiny_recipe, env):
    recipe = tiny_recipe("resume", steps=6)
    run_recipe(recipe, results_root=env / "straight", progress=False, evaluate=False)
    straight = next((env / "straight" / "runs" / "resume").iterdir())

    cmd = [sys.executable, "-m", "harness.cli", "run", str(recipe), "--results", str(env / "killed"), "--quiet", "--no-eval"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    deadline = time.time() + 300
    killed_dir = None
    while time.time() < deadline and proc.poll() is None:
        found = list((env / "killed").glob("runs/resume/*/checkpoints/step-00000002"))
        if found:
            killed_dir = found[0].parent.parent
            break
        time.sleep(0.05)
    assert killed_dir is not None, proc.stdout.read().decode() if proc.poll() is not None else "no checkpoint in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((killed_dir / "run.json").read_text())["status"] == "running"
    assert not (killed_dir / "student").exists()

    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr

    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((killed_dir / "run.json").read_text())
    assert info["status"] == "finished" and info["summary"]["resumed_from_step"] >= 2

    a, b = weights(straight / "student"), weights(killed_dir / "student")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _without_wall_clock(straight / "metrics.jsonl") == _without_wall_clock(killed_dir / "metrics.jsonl")


class _NaNLoss(Loss):
    """Always NaN (test component)."""

    def forward(self, student, teacher, mask=None):
        return student.sum() * float("nan")


@pytest.fixture
def nan_loss():
    LOSSES.add("test_nan", _NaNLoss)
    yield
    LOSSES.unregister("test_nan")


def test_nan_objective_stops_the_run_naming_it_and_the_step(tiny_recipe, nan_loss, env):
    recipe = load_recipe(tiny_recipe("nan"), ["objectives.planning.loss=test_nan"])
    with pytest.raises(HarnessError, match=r"objective 'planning' is nan at step 1"):
        run_recipe(recipe, progress=False, evaluate=False)
    run = next((env / "results" / "runs" / "nan").iterdir())
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "planning" in info["error"]


def test_nan_policy_skip_counts_skipped_micro_batches_and_steps(tiny_recipe, nan_loss):
    recipe = load_recipe(tiny_recipe("nanskip", steps=2), ["objectives.planning.loss=test_nan", "train.nan_policy=skip",
                                                           "train.max_skipped=1.0"])
    run = run_recipe(recipe, progress=False, evaluate=False)
    summary = run.info()["summary"]
    assert summary["skipped_steps"] == 2  # every micro-batch of both steps was skipped: no optimizer step
    assert summary["skipped_micro_batches"]["nonfinite"] == 4
    skipped = [r for r in run.metrics() if r.get("skipped")]
    assert len(skipped) == 4 and all("samples [" in r["reason"] and "sequence length" in r["reason"] for r in skipped)


def test_skipping_stops_past_max_skipped(tiny_recipe, nan_loss):
    recipe = load_recipe(tiny_recipe("nanmax", steps=2), ["objectives.planning.loss=test_nan", "train.nan_policy=skip",
                                                          "train.max_skipped=0.5"])
    with pytest.raises(HarnessError, match=r"3 of 4 planned micro-batches skipped .* more than train.max_skipped = 0.5"):
        run_recipe(recipe, progress=False, evaluate=False)


def test_finished_run_is_a_noop_and_student_loads_without_the_harness(tiny_recipe, env, capsys, caplog):
    recipe = tiny_recipe("noop", steps=2)
    first = run_recipe(recipe, progress=False, evaluate=False)
    record = first.metrics()[-1]
    assert record["step"] == 2 and set(record["loss"]) == {"ce", "perception", "reasoning", "planning"}
    assert record["combine"]["weights"] and "cosine" in json.dumps(record["combine"])
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="harness"):
        again = run_recipe(recipe, progress=False, evaluate=False)
    assert again.path == first.path
    assert "already finished" in caplog.text  # logged (the CLI prints it), …
    assert capsys.readouterr().out == ""  # … not printed by the library
    forced = run_recipe(recipe, force=True, progress=False, evaluate=False)
    assert forced.path.name.endswith("-2")

    code = (
        "import sys, transformers\n"
        "m = transformers.AutoModelForImageTextToText.from_pretrained(sys.argv[1])\n"
        "assert 'harness' not in sys.modules\n"
        "print(type(m).__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(first.path / "student")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "InternVL" in proc.stdout


@pytest.mark.parametrize("overrides", [["reweighting=gradnorm"], ["reweighting=drivekd_online"], ["train.precision=bf16"],
                                       ["train.combine_per=step"], ["train.accum_reduction=mean"]],
                         ids=["gradnorm", "drivekd_online", "bf16", "combine_per_step", "accum_mean"])
def test_options_run_to_the_end(tiny_recipe, overrides):
    run = run_recipe(load_recipe(tiny_recipe("opt_" + overrides[0].split("=")[1], steps=2), overrides),
                     progress=False, evaluate=False)
    assert run.info()["status"] == "finished"
    last = run.metrics()[-1]
    assert all(torch.isfinite(torch.tensor(v)) for v in last["loss"].values())


def test_rerunning_a_runs_resolved_recipe_reproduces_it_bit_for_bit(tiny_recipe, env):
    """The tiny recipe lists its objectives perception, reasoning, planning: not sorted, as
    recipe.resolved.yaml writes them. Both runs train in the canonical order, so the run of the
    resolved file lands in the same folder name with the same weights and metrics (issue 20)."""
    first = run_recipe(tiny_recipe("again", steps=2), results_root=env / "first", progress=False, evaluate=False)
    second = run_recipe(first.recipe_file, results_root=env / "second", progress=False, evaluate=False)
    assert second.path.name == first.path.name
    assert second.recipe_file.read_text() == first.recipe_file.read_text()
    a, b = weights(first.path / "student"), weights(second.path / "student")
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("time", "seconds", "elapsed")} for r in rows]
    assert [r["loss"] for r in strip(first.metrics())] == [r["loss"] for r in strip(second.metrics())]


class _OutOfMemoryOnce(Loss):
    """MSE that raises torch's out-of-memory error on its first call of the process (test component)."""

    calls = 0

    def forward(self, student, teacher, mask=None):
        type(self).calls += 1
        if type(self).calls == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return ((student - teacher) ** 2).mean()


@pytest.fixture
def oom_loss():
    _OutOfMemoryOnce.calls = 0
    LOSSES.add("test_oom", _OutOfMemoryOnce)
    yield
    LOSSES.unregister("test_oom")


def test_out_of_memory_stops_the_run_naming_samples_length_and_step(tiny_recipe, oom_loss, env):
    recipe = load_recipe(tiny_recipe("oom", steps=2), ["objectives.planning.loss=test_oom"])
    with pytest.raises(HarnessError, match=r"out of memory at step 1, micro-batch 1, samples \[.+\], sequence length \d+"):
        run_recipe(recipe, progress=False, evaluate=False)
    run = next((env / "results" / "runs" / "oom").iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_on_oom_skip_drops_only_that_micro_batch_and_counts_it(tiny_recipe, oom_loss):
    recipe = load_recipe(tiny_recipe("oomskip", steps=2),
                         ["objectives.planning.loss=test_oom", "train.on_oom=skip", "train.max_skipped=0.25"])
    run = run_recipe(recipe, progress=False, evaluate=False)
    summary = run.info()["summary"]
    assert summary["skipped_steps"] == 0  # the first step still trained on its second micro-batch
    assert summary["skipped_micro_batches"]["oom"] == 1
    records = run.metrics()
    assert [r["kind"] for r in records if r.get("skipped")] == ["oom"]
    assert next(r for r in records if r.get("step") == 1 and "loss" in r)["skipped_micro_batches"] == 1


def test_drivekd_online_learns_once_per_step_and_its_state_is_in_checkpoints(tiny_recipe):
    from harness.train.checkpoint import latest_checkpoint, load_checkpoint

    recipe = load_recipe(tiny_recipe("dkd_online", steps=3), ["reweighting=drivekd_online", "train.accum_reduction=mean"])
    run = run_recipe(recipe, progress=False, evaluate=False)
    state = load_checkpoint(latest_checkpoint(run.path))  # written after step 2 (none after the last step)
    reweighting = state["engine"]["combiner"]["reweighting"]
    assert state["step"] == 2 and reweighting["updates"] == 2
    assert sorted(reweighting["names"]) == ["ce", "perception", "planning", "reasoning"]
    assert "state" in reweighting["optimizer"] and reweighting["norm_counts"].sum() == 0  # the step's norms were used


class _NaNGradient(Loss):
    """A finite loss (0) whose gradient is NaN: d sqrt(u)/du is inf at 0, times du/dx = 0 (test component)."""

    def forward(self, student, teacher, mask=None):
        return (student * 0).sum().sqrt()


@pytest.fixture
def nan_gradient():
    LOSSES.add("test_nan_grad", _NaNGradient)
    yield
    LOSSES.unregister("test_nan_grad")


def test_a_non_finite_gradient_stops_or_drops_its_step(tiny_recipe, nan_gradient):
    recipe = load_recipe(tiny_recipe("nangrad", steps=2), ["objectives.planning.loss=test_nan_grad"])
    with pytest.raises(HarnessError, match=r"combined gradient's norm is nan at step 1"):
        run_recipe(recipe, progress=False, evaluate=False)
    skip = load_recipe(tiny_recipe("nangradskip", steps=2), ["objectives.planning.loss=test_nan_grad",
                                                             "train.nan_policy=skip", "train.max_skipped=1.0"])
    summary = run_recipe(skip, progress=False, evaluate=False).info()["summary"]
    assert summary["skipped_steps"] == 2 and summary["skipped_micro_batches"]["nonfinite"] == 4


def test_accum_reduction_mean_divides_the_step_gradient_by_grad_accum(tiny_recipe):
    clip = ["train.max_grad_norm=1.0e9"]  # no real clipping; it makes the loop log the gradient's norm
    summed = run_recipe(load_recipe(tiny_recipe("acc_sum", steps=1), clip), progress=False, evaluate=False)
    mean = run_recipe(load_recipe(tiny_recipe("acc_mean", steps=1), clip + ["train.accum_reduction=mean"]),
                      progress=False, evaluate=False)
    g_sum, g_mean = summed.metrics()[-1]["grad_norm"], mean.metrics()[-1]["grad_norm"]
    assert g_sum > 0 and g_mean == pytest.approx(g_sum / 2, rel=1e-5)  # the tiny recipe has grad_accum 2
