"""Experiment trackers: what a recipe may name, what a run tells them, and TensorBoard read back."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.errors import RecipeError
from harness.recipe import recipe_from_dict
from harness.train.telemetry import StepWindow
from harness.train.tracking import PACKAGES, flat_params, scalars

TINY = {
    "name": "tracked",
    "student": {"family": "internvl3", "zoo": "student"},
    "data": {"train": {"name": "synthetic", "seed": 0, "train": 8, "eval": 4}},
}


def with_trackers(trackers) -> dict:
    return dict(TINY, train={"trackers": trackers})


def missing_tracker() -> str:
    """An accelerate tracker whose package this machine lacks (several always are: aim, clearml, swanlab, …)."""
    missing = [name for name in PACKAGES if name != "tensorboard" and importlib.util.find_spec(name) is None]
    assert missing, "every tracker package is installed; the not-installed check has nothing to test against"
    return missing[0]


def test_trackers_are_not_part_of_the_run_identity():
    plain = recipe_from_dict(dict(TINY))
    tracked = recipe_from_dict(with_trackers(["tensorboard"]))
    assert tracked.spec.train.trackers[0].name == "tensorboard"
    assert tracked.hash == plain.hash


def test_an_unknown_tracker_is_an_error_naming_the_field():
    with pytest.raises(RecipeError, match=r"train\.trackers\.0: unknown tracker 'tensorbord'; did you mean 'tensorboard'"):
        recipe_from_dict(with_trackers(["tensorbord"]))


def test_a_tracker_listed_twice_is_an_error():
    with pytest.raises(RecipeError, match=r"train\.trackers\.1: tracker 'tensorboard' is listed twice"):
        recipe_from_dict(with_trackers(["tensorboard", {"name": "tensorboard", "flush_secs": 5}]))


def test_an_option_the_tracker_does_not_take_is_an_error():
    # MLflowTracker takes named options only (no **kwargs), so a typo is caught before any run
    with pytest.raises(RecipeError, match=r"train\.trackers\.0\.tagz: unknown option 'tagz' of tracker 'mlflow'; "
                                          r"did you mean 'tags'"):
        recipe_from_dict(with_trackers([{"name": "mlflow", "tagz": {"a": "b"}}]))


def test_a_tracker_that_is_not_installed_fails_validate_naming_the_package(tmp_path):
    name = missing_tracker()
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(with_trackers([name])))
    done = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(recipe)], capture_output=True, text=True)
    assert done.returncode == 2 and not done.stdout
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert f"train.trackers.0: tracker '{name}' is not installed: pip install {PACKAGES[name]}" in line


def test_scalars_name_every_part_of_a_metrics_record():
    record = {
        "step": 4, "lr": 1e-3, "loss": {"ce": 2.0, "planning": 0.5}, "grad_norm": 3.0, "step_seconds": 0.25,
        "tokens_per_s": 800.0, "conflict_share": 0.5,
        "combine": {"weights": {"ce": 1.0, "planning": 0.7}, "grad_norms": {"ce": 2.0, "planning": None},
                    "cosine": {"ce": {"ce": 1.0, "planning": -0.2}, "planning": {"ce": -0.2, "planning": 1.0}},
                    "conflicts": 1, "conflicting_pairs": [["ce", "planning"]], "combined_norm": 1.5},
    }
    assert scalars(record) == {
        "loss/ce": 2.0, "loss/planning": 0.5, "weight/ce": 1.0, "weight/planning": 0.7,
        "cosine/ce_vs_planning": -0.2, "conflict/pairs": 1.0, "conflict/share_of_steps": 0.5,
        "grad_norm/ce": 2.0, "grad_norm/combined": 1.5, "grad_norm/step": 3.0,  # an undefined norm is left out
        "train/lr": 1e-3, "train/tokens_per_s": 800.0, "train/step_seconds": 0.25,
    }
    assert scalars({"step": 5, "skipped": True, "reason": "objective 'ce' is nan"}) == {}


def test_flat_params_keep_scalars_and_write_lists_as_json():
    flat = flat_params({"train": {"lr": 1e-3, "trackers": [{"name": "tensorboard"}]}, "teachers": {}, "seed": 0,
                        "mixing": None})
    assert flat == {"train.lr": 1e-3, "train.trackers": '[{"name": "tensorboard"}]', "teachers": "{}", "seed": 0,
                    "mixing": None}


def test_the_step_window_counts_steps_with_a_conflict_and_resets():
    window = StepWindow()
    window.add(seconds=1.0, tokens=100, diagnostics=[{"conflicts": 0}, {"conflicts": 2}])
    window.add(seconds=3.0, tokens=300, diagnostics=[{"conflicts": 0}])
    window.add(seconds=0.0, tokens=0, diagnostics=[{"weights": {}}])  # sum's single backward: no Gramian
    assert window.flush() == {"step_seconds": 4.0 / 3, "tokens_per_s": 100.0, "conflict_share": 0.5}
    assert window.flush() == {}


# -- a real run, read back with TensorBoard's own reader -------------------------------------------

EXPECTED = [  # every scalar issue 18 point 1 names, for an AGP run of objectives ce, perception, planning
    *(f"loss/{n}" for n in ("ce", "perception", "planning")),
    *(f"weight/{n}" for n in ("ce", "perception", "planning")),
    "cosine/ce_vs_perception", "cosine/ce_vs_planning", "cosine/perception_vs_planning",
    "conflict/pairs", "conflict/share_of_steps",
    *(f"grad_norm/{n}" for n in ("ce", "perception", "planning")), "grad_norm/combined", "grad_norm/step",
    "train/lr", "train/tokens_per_s", "train/step_seconds",
]

TRACKED_RUN = """\
name: tracked_agp
seed: 0
student: {family: internvl3, zoo: student}
teachers:
  teacher: {family: internvl3, zoo: teacher_s, sft: {max_steps: 2, lr: 2.0e-3, batch_size: 4}}
data:
  train: {name: synthetic, seed: 0, train: 16, eval: 4}
  eval: {name: synthetic, seed: 0, train: 16, eval: 4}
objectives:
  ce: {weight: 1.0}
  perception: {teacher: teacher, signal: {attention: text_to_vision, layers: first}, loss: mse, weight: 1000.0}
  planning: {teacher: teacher, signal: {attention: text_to_vision, layers: penultimate}, loss: mse, weight: 1000.0}
combiner: {name: agp}
eval: {max_items: 4, max_new_tokens: 8, system_prompt: none}
train: {lr: 1.0e-3, batch_size: 2, grad_accum: 2, max_steps: 4, log_every: 2, trackers: [tensorboard]}
"""


@pytest.mark.slow
def test_a_tiny_agp_run_logs_every_named_scalar_to_tensorboard(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from harness.runner import run_recipe

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    recipe = tmp_path / "tracked.yaml"
    recipe.write_text(TRACKED_RUN)
    results = tmp_path / "results"
    run = run_recipe(recipe, results_root=results, progress=False)
    logged = [r["step"] for r in run.metrics()]
    assert logged == [2, 4]

    events = results / "tensorboard" / "tracked_agp" / f"tracked_agp-{run.path.name}"
    reader = EventAccumulator(str(events), size_guidance={"scalars": 0})
    reader.Reload()
    tags = reader.Tags()["scalars"]
    for tag in EXPECTED:
        assert tag in tags, f"{tag} missing from TensorBoard (has {sorted(tags)})"
        assert [e.step for e in reader.Scalars(tag)] == logged, tag
    last = run.metrics()[-1]
    for name, value in last["loss"].items():
        assert reader.Scalars(f"loss/{name}")[-1].value == pytest.approx(value, rel=1e-6)
    assert reader.Scalars("grad_norm/combined")[-1].value == pytest.approx(last["combine"]["combined_norm"], rel=1e-6)
    scores = json.loads((run.path / "run.json").read_text())["summary"]["eval"]
    assert reader.Scalars("eval/avg")[-1].value == pytest.approx(scores["avg"]) and reader.Scalars("eval/avg")[-1].step == 4

    # the run's parameters: accelerate writes them beside the events as hparams.yml as well as to the hparams plugin
    (params_file,) = events.glob("*/hparams.yml")
    params = yaml.safe_load(params_file.read_text())
    info = json.loads((run.path / "run.json").read_text())
    assert params["config_hash"] == info["config_hash"] and params["train.lr"] == 1e-3
    assert params["combiner.name"] == "agp" and params["run_dir"] == str(run.path)


def test_wandb_mlflow_and_trackio_runs_are_named_grouped_and_local_by_default(tmp_path, monkeypatch):
    """accelerate's own tracker classes, built (not started: that needs the packages) as a sweep trial's."""
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    from harness.train.tracking import RunNaming, construct_tracker

    monkeypatch.delenv("WANDB_MODE", raising=False)
    for var in ("MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MLFLOW_TAGS", "MLFLOW_NESTED_RUN"):
        monkeypatch.delenv(var, raising=False)
    naming = RunNaming.of("tiny_agp", "0123abcd-s0", study="table3", trial=7)
    assert naming.name == "trial-0007-tiny_agp-0123abcd-s0" and naming.group == "table3"

    wandb = construct_tracker("wandb", LOGGER_TYPE_TO_CLASS["wandb"], {"entity": "lab"}, naming, tmp_path)
    assert wandb.run_name == "drivekd-harness"  # accelerate passes it to wandb.init as the project
    assert wandb.init_kwargs == {"entity": "lab", "mode": "offline", "dir": str(tmp_path), "name": naming.name,
                                 "group": "table3"}
    online = construct_tracker("wandb", LOGGER_TYPE_TO_CLASS["wandb"], {"mode": "online", "project": "p"}, naming,
                               tmp_path)
    assert online.init_kwargs["mode"] == "online" and online.run_name == "p"  # only when the recipe asks

    mlflow = construct_tracker("mlflow", LOGGER_TYPE_TO_CLASS["mlflow"], {"tags": {"machine": "a"}}, naming, tmp_path)
    assert (mlflow.experiment_name, mlflow.run_name) == ("drivekd-harness", naming.name)
    assert mlflow.tags == {"group": "table3", "trial": "7", "machine": "a"}

    trackio = construct_tracker("trackio", LOGGER_TYPE_TO_CLASS["trackio"], {}, naming, tmp_path)
    assert trackio.run_name == "drivekd-harness" and trackio.init_kwargs == {"name": naming.name, "group": "table3"}

    board = construct_tracker("tensorboard", LOGGER_TYPE_TO_CLASS["tensorboard"], {"flush_secs": 5}, naming, tmp_path)
    assert board.logging_dir_param == str(tmp_path / "tensorboard")
    assert board.run_name == f"table3/{naming.name}" and board.init_kwargs == {"flush_secs": 5}
