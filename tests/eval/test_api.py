"""evaluate_run (inside `harness run`) and evaluate / `harness eval`: files, contract, no overwrite."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.cli import main as cli
from harness.eval.aggregate import COLUMNS
from harness.eval.api import evaluate, evaluate_run, parse_model_arg
from harness.recipe import recipe_from_dict
from harness.rundir import RunDir
from tests.eval.conftest import CLEAN

FLAT_KEYS = {"avg", "perception", "reasoning", "planning", "mcq_acc_strict", "judge_id", "text_only_gap",
             "corruption_mean", "tokens_per_second", "peak_memory_mb", "first_token_latency_s"}


def test_evaluate_run_writes_the_contract(zoo_student, tmp_path):
    recipe = recipe_from_dict({
        "name": "eval_test",
        "student": {"family": "internvl3", "zoo": "student"},
        "data": {"eval": {"name": "synthetic", "train": 16, "eval": 8}},
        "eval": {"settings": ["clean", "text_only", "fog"], "batch_size": 4, "max_new_tokens": 4},
    })
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    flat = evaluate_run(recipe, zoo_student, run, progress=False)
    assert FLAT_KEYS <= set(flat) and flat["judge_id"] == "rubric-v1"
    assert flat["n_items"] == 8 and flat["n_missing"] == 0
    json.dumps(flat, allow_nan=False)
    for setting in ("clean", "text_only", "fog"):
        lines = [json.loads(x) for x in (run.path / "eval" / setting / "predictions.jsonl").read_text().splitlines()]
        assert len(lines) == 8
        assert {"item_id", "setting", "prompt", "prediction", "seconds", "n_new_tokens"} <= set(lines[0])
        assert all(line["setting"] == setting for line in lines)
    scores = pd.read_parquet(run.path / "eval" / "scores.parquet")
    assert tuple(scores.columns) == COLUMNS and len(scores) == 24
    assert set(scores.run) == {"run"} and set(scores.model) == {"internvl3:zoo/student"}
    assert set(scores.capability) == {"perception", "reasoning", "planning"}
    summary = json.loads((run.path / "eval" / "summary.json").read_text())
    assert set(summary["settings"]) == {"clean", "text_only", "fog"}
    assert {"device", "batch_size", "peak_memory_mb", "tokens_per_second", "first_token_latency_s"} <= set(
        summary["efficiency"])
    assert summary["efficiency"]["batch_size"] == 4
    assert summary["text_only_gap"] == pytest.approx(summary["settings"]["clean"]["avg"]
                                                     - summary["settings"]["text_only"]["avg"])


def test_harness_eval_on_real_items_text_only_never_overwrites(zoo_student, tmp_path, capsys):
    args = ["eval", "--model", "internvl3:zoo/student", "--data", str(CLEAN), "--setting", "text_only",
            "--max-items", "6", "--max-new-tokens", "3", "--batch-size", "3", "--results", str(tmp_path), "--quiet"]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "text_only" in out and "rubric-v1" in out
    runs = list((tmp_path / "evals").glob("*/*"))
    assert len(runs) == 1 and runs[0].parent.name == "internvl3_zoo-student"
    info = json.loads((runs[0] / "run.json").read_text())
    assert info["status"] == "finished" and info["summary"]["eval"]["n_items"] == 6
    predictions = (runs[0] / "eval" / "text_only" / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 6
    before = (runs[0] / "eval" / "scores.parquet").read_bytes()

    assert cli(args) == 0  # a finished evaluation is a no-op
    assert "already evaluated" in capsys.readouterr().out
    assert (runs[0] / "eval" / "scores.parquet").read_bytes() == before
    assert cli(args + ["--force"]) == 0  # a fresh sibling, the old one untouched
    assert sorted(p.name for p in runs[0].parent.iterdir()) == [runs[0].name, runs[0].name + "-2"]
    same = [json.loads(x)["prediction"] for x in predictions]
    again = [json.loads(x)["prediction"] for x in
             (runs[0].parent / (runs[0].name + "-2") / "eval" / "text_only" / "predictions.jsonl").read_text().splitlines()]
    assert same == again  # same model + data on CPU → identical predictions


@pytest.mark.parametrize("extra,message", [
    (["--model", "internvl3:zoo/studnt", "--data", "synthetic"], "no size 'studnt'"),
    (["--model", "intervl3:1b", "--data", "synthetic"], "did you mean 'internvl3'"),
    (["--model", "internvl3:zoo/student", "--data", "synthetc"], "did you mean 'synthetic'"),
    (["--model", "internvl3:zoo/student", "--data", str(CLEAN), "--setting", "txt_only"], "did you mean 'text_only'"),
    (["--model", "internvl3:zoo/student", "--data", str(CLEAN)], "image not found"),
    (["--model", "internvl3:zoo/student", "--data", "synthetic", "--judge", "llm"], "unknown judge 'llm'"),
    (["--model", "internvl3:zoo/student", "--data", "synthetic", "--judge", "http"], "base_url"),
    (["--model", "internvl3:zoo/student", "--data", "synthetic", "--judge-option", "nokey"], "KEY=VALUE"),
])
def test_user_errors_are_one_line_and_leave_nothing(tmp_path, capsys, extra, message):
    code = cli(["eval", *extra, "--data-option", "train=8", "--data-option", "eval=8", "--results", str(tmp_path),
                "--quiet"] if "synthetic" in extra else ["eval", *extra, "--results", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "evals").exists()


def test_model_argument_forms(tmp_path, zoo_student):
    assert parse_model_arg("qwen2_5_vl:3b") == {"family": "qwen2_5_vl", "scale": "3b", "dtype": "float32"}
    assert parse_model_arg("internvl3:zoo/student")["zoo"] == "student"
    folder = tmp_path / "student"
    zoo_student.model.save_pretrained(folder)
    zoo_student.processor.save_pretrained(folder)
    spec = parse_model_arg(str(folder))
    assert spec["family"] == "internvl3" and spec["path"] == str(folder.resolve())


def test_evaluate_from_a_saved_folder(tmp_path, zoo_student):
    folder = tmp_path / "runs" / "x" / "abc-s0" / "student"
    zoo_student.model.save_pretrained(folder)
    zoo_student.processor.save_pretrained(folder)
    run = evaluate(str(folder), "synthetic", ["clean"], data_options={"train": 8, "eval": 8}, max_items=4,
                   max_new_tokens=3, results_root=tmp_path / "res", progress=False)
    assert run.path.parent.name == "internvl3_abc-s0-student"
    assert run.info()["summary"]["eval"]["n_items"] == 4



def test_a_folder_is_evaluated_by_its_content(tmp_path, zoo_student):
    """The same weights copied elsewhere are already evaluated; weights rebuilt in place are not
    (before, the folder's path was the identity)."""
    import shutil

    import torch

    here = tmp_path / "a" / "teachers" / "internvl3"
    zoo_student.model.save_pretrained(here)
    zoo_student.processor.save_pretrained(here)
    there = tmp_path / "b" / "teachers" / "internvl3"
    shutil.copytree(here, there)
    kw = dict(data_options={"train": 8, "eval": 8}, max_items=2, max_new_tokens=2, results_root=tmp_path / "res",
              progress=False)
    first = evaluate(str(here), "synthetic", ["clean"], **kw)
    assert evaluate(str(there), "synthetic", ["clean"], **kw).path == first.path
    changed = type(zoo_student.model).from_pretrained(here)
    with torch.no_grad():
        next(changed.parameters()).add_(1.0)
    changed.save_pretrained(here)
    rebuilt = evaluate(str(here), "synthetic", ["clean"], **kw)
    assert rebuilt.path != first.path and rebuilt.status == "finished"

@pytest.mark.slow
def test_absent_hub_weights_are_the_one_line_error_of_load_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    code = cli(["eval", "--model", "internvl3:1b", "--data", "synthetic", "--data-option", "train=8",
                "--data-option", "eval=8", "--results", str(tmp_path / "res"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "OpenGVLab/InternVL3-1B-hf" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "res").exists()


def test_http_judge_inside_evaluate_counts_missing_verdicts(tmp_path, zoo_student):
    from tests.eval.loopback import Loopback, completion

    def behaviour(n, body):
        prompt = body["messages"][-1]["content"]
        return (500, "down") if "moving status" in prompt else (200, completion("Total Score: 42"))

    with Loopback(behaviour) as server:
        run = evaluate("internvl3:zoo/student", "synthetic", ["clean"], "http",
                       {"base_url": server.base_url, "model": "grader", "max_retries": 0,
                        "cache": str(tmp_path / "v.sqlite")},
                       data_options={"train": 8, "eval": 8}, max_new_tokens=2, batch_size=4,
                       results_root=tmp_path / "res", progress=False)
    scores = pd.read_parquet(run.path / "eval" / "scores.parquet")
    missing = scores[scores.judge_total.isna()]
    assert len(missing) == 1 and missing.item_id.iloc[0].endswith(":moving_status")
    assert set(scores.judge_id) == {f"http:grader@{server.base_url.split('/')[2]}"}
    flat = run.info()["summary"]["eval"]
    assert flat["n_missing"] == 1 and flat["perception"] == 42.0 and flat["avg"] == 42.0
    assert "api_key" not in json.dumps(run.info()).replace("api_key_env", "")
