"""The run-directory contract: layout, provenance, atomic writes, never overwriting."""

import json
import os

import pytest

from harness.errors import HarnessError
from harness.files import append_jsonl, atomic_write_text, read_jsonl
from harness.rundir import RunDir, open_run, run_path

HASH = "0123456789abcdef" * 4


def opened(root, **kw):
    return open_run(root, recipe_name="demo", config_hash=HASH, seed=3, resolved_yaml="name: demo\n", **kw)


def test_layout_and_provenance(tmp_path):
    result = opened(tmp_path)
    run = result.run
    assert not result.existing
    assert run.path == tmp_path / "runs" / "demo" / "01234567-s3"
    assert run.recipe_file.read_text() == "name: demo\n"
    info = json.loads(run.info_file.read_text())
    assert info["status"] == "running"
    assert info["seed"] == 3 and info["config_hash"] == HASH
    for key in ("started_at", "git_commit", "packages", "hardware"):
        assert key in info
    assert info["packages"]["torch"]
    assert info["hardware"]["cpu_count"] >= 1


def test_finished_run_is_not_overwritten(tmp_path):
    run = opened(tmp_path).run
    run.log({"step": 1, "loss": 0.5})
    run.finish()
    again = opened(tmp_path)
    assert again.existing and again.run.path == run.path
    assert run.metrics() == [{"loss": 0.5, "step": 1}]
    assert run.status == "finished"


def test_force_writes_a_new_sibling(tmp_path):
    first = opened(tmp_path).run
    first.finish()
    second = opened(tmp_path, force=True).run
    third = opened(tmp_path, force=True).run
    assert second.path.name == "01234567-s3-2"
    assert third.path.name == "01234567-s3-3"
    assert first.status == "finished" and second.status == "running"


def test_unfinished_run_needs_resume_or_force(tmp_path):
    run = opened(tmp_path).run
    run.interrupt("SIGTERM")
    assert run.status == "interrupted"
    with pytest.raises(HarnessError, match="--resume"):
        opened(tmp_path)
    resumed = opened(tmp_path, resume=True)
    assert resumed.resumed and resumed.run.path == run.path and resumed.run.status == "running"


def test_resume_without_a_run_is_an_error(tmp_path):
    with pytest.raises(HarnessError, match="nothing to resume"):
        opened(tmp_path, resume=True)


def test_atomic_write_leaves_no_temp_file_and_old_content_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_jsonl_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    append_jsonl(path, {"a": 1})
    with open(path, "a") as handle:
        handle.write('{"a": 2')
    assert read_jsonl(path) == [{"a": 1}]


def test_jsonl_serialises_tensors(tmp_path):
    import torch

    path = tmp_path / "m.jsonl"
    append_jsonl(path, {"w": torch.tensor([1.0, 2.0]), "x": torch.tensor(3)})
    assert read_jsonl(path) == [{"w": [1.0, 2.0], "x": 3}]


def test_run_path_names():
    assert run_path("r", "n", HASH, 0).as_posix() == "r/runs/n/01234567-s0"


def test_rundir_update_merges(tmp_path):
    run = RunDir(tmp_path)
    run.update(a=1)
    run.update(b=2)
    assert run.info() == {"a": 1, "b": 2}


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    """Results written atomically are readable by others as umask allows (they used to be 0600/0700)."""
    import os
    import stat

    from harness.files import atomic_folder, atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        with atomic_folder(tmp_path / "student") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "student").stat().st_mode) == 0o755


def test_every_artifact_path_is_a_property_of_the_run_folder(tmp_path):
    run = RunDir(tmp_path / "r")
    assert [p.relative_to(run.path).as_posix() for p in (
        run.recipe_file, run.info_file, run.metrics_file, run.checkpoints_dir, run.student_dir, run.eval_dir,
        run.scores_file, run.summary_file, run.predictions_file("fog"))] == [
        "recipe.resolved.yaml", "run.json", "metrics.jsonl", "checkpoints", "student", "eval",
        "eval/scores.parquet", "eval/summary.json", "eval/fog/predictions.jsonl"]


CONTRACT_NAMES = ("run.json", "metrics.jsonl", "recipe.resolved.yaml", "checkpoints", "scores.parquet",
                  "summary.json", "predictions.jsonl")


def test_no_module_but_rundir_spells_a_run_folder_path():
    """`RunDir` owns the contract: a path literal elsewhere would be a second copy of it."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "harness"
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "rundir.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if any(node.value == n or node.value.endswith("/" + n) for n in CONTRACT_NAMES):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.value!r}")
    assert found == []


def test_an_evaluation_folder_opens_through_the_same_code_as_a_run(tmp_path):
    from harness.locks import RunBusy
    from harness.rundir import evaluation_path, open_evaluation

    base = evaluation_path(tmp_path, "internvl3_zoo-student", HASH)
    assert base == tmp_path / "evals" / "internvl3_zoo-student" / "01234567"
    first = open_evaluation(base, fields={"model": "m", "identity_hash": HASH})
    info = first.run.info()
    assert info["status"] == "running" and info["kind"] == "eval" and info["model"] == "m"
    assert first.run.is_evaluation and not first.run.recipe_file.exists()
    for key in ("started_at", "git_commit", "packages", "hardware"):
        assert key in info
    with pytest.raises(RunBusy, match="in use by pid"):  # locked while it is written, like a run
        open_evaluation(base, fields={})
    first.release()
    with pytest.raises(HarnessError, match="a previous evaluation with these settings is running; start a fresh "
                                           "copy with --force"):
        open_evaluation(base, fields={})
    first.run.finish()
    again = open_evaluation(base, fields={})
    assert again.existing and again.run.path == base  # a finished one is a no-op
    forced = open_evaluation(base, fields={}, force=True)
    assert forced.run.path.name == "01234567-2" and first.run.status == "finished"
    forced.release()
