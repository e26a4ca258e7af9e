"""The run-directory contract: layout, provenance, atomic writes, never overwriting."""

import json
import os

import pytest

from harness.errors import HarnessError
from harness.rundir import RunDir, append_jsonl, atomic_write_text, open_run, read_jsonl, run_path

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

    from harness.rundir import atomic_folder, atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        with atomic_folder(tmp_path / "student") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "student").stat().st_mode) == 0o755
