"""Checkpoint folders and the teacher-target store: atomic, complete or absent."""

import os

import pytest
import torch

from harness.train.checkpoint import clean_temporaries, latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from harness.locks import BuildLock
from harness.train.target_store import TargetStore, TargetStoreWriter, is_complete


def test_checkpoints_are_kept_pruned_and_loaded(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {"step": step, "w": torch.ones(2) * step}, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["step-00000002", "step-00000003"]
    state = load_checkpoint(latest_checkpoint(tmp_path))
    assert state["step"] == 3 and torch.equal(state["w"], torch.full((2,), 3.0))


def test_half_written_checkpoint_is_ignored_and_cleaned(tmp_path):
    save_checkpoint(tmp_path, 1, {"step": 1})
    half = tmp_path / "checkpoints" / ".step-00000002.abc"
    half.mkdir()
    (half / "state.pt").write_bytes(b"torn")
    assert latest_checkpoint(tmp_path).name == "step-00000001"
    clean_temporaries(tmp_path)
    assert not half.exists()


def test_failed_checkpoint_write_leaves_the_previous_one(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 1, {"step": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path, 2, {"step": 2})
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000001"]


def test_target_store_round_trip_in_float16_across_shards(tmp_path):
    writer = TargetStoreWriter(tmp_path / "store", shard_samples=2, meta={"teacher": "t"})
    data = {f"s{i}": {"layer0": torch.rand(3, 4), "layer5": torch.rand(2)} for i in range(5)}
    for sid, targets in data.items():
        writer.add(sid, targets)
    assert not is_complete(tmp_path / "store")
    path = writer.commit()
    store = TargetStore(path)
    assert len(store) == 5 and store.meta == {"teacher": "t"}
    assert len(list(path.glob("shard-*.safetensors"))) == 3
    got = store.get("s3")
    assert got["layer0"].dtype == torch.float16
    assert torch.allclose(got["layer0"].float(), data["s3"]["layer0"], atol=1e-3)
    assert set(got) == {"layer0", "layer5"}
    assert store.bytes == 5 * (12 + 2) * 2


def test_duplicate_sample_is_refused(tmp_path):
    writer = TargetStoreWriter(tmp_path / "store")
    writer.add("a", {"x": torch.zeros(1)})
    with pytest.raises(ValueError):
        writer.add("a", {"x": torch.zeros(1)})
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    lock_file = tmp_path / "store.lock"
    lock_file.write_text("999999999")
    with BuildLock(tmp_path / "store", poll=0.01):
        assert lock_file.read_text() == str(os.getpid())
    assert not lock_file.exists()
