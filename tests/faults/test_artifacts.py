"""Reused artifacts carry checksums: a damaged teacher-target shard, index, zoo model, fine-tuned
teacher or synthetic benchmark is rebuilt (or refused naming the file), never read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.data.errors import DataError
from harness.data.synthetic.writer import SynthConfig, ensure
from harness.integrity import CorruptArtifact, sha256_file
from harness.models.zoo import ensure_zoo_model
from harness.recipe import load_recipe
from harness.train.target_store import TargetStore

from .injection import flip_byte, truncate

DISTIL = """\
name: distil
seed: 0
student: {{family: internvl3, zoo: student}}
teachers:
  t: {{family: internvl3, zoo: teacher_s{sft}}}
data:
  train: {{name: synthetic, seed: 0, train: 8, eval: 4}}
objectives:
  ce: {{weight: 1.0}}
  perception:
    teacher: t
    signal: {{attention: text_to_vision, layers: first}}
    loss: mse
combiner: {{name: agp}}
cache: {{mode: disk, dir: '{cache}'}}
train: {{max_steps: 1, batch_size: 4, grad_accum: 1}}
"""


def _prepare(env, sft=""):
    from harness.runner import prepare

    path = env / "distil.yaml"
    path.write_text(DISTIL.format(sft=sft, cache=env / "targets"))
    return prepare(load_recipe(path), progress=False)


def _store(prepared):
    (name,) = prepared.targets.stores
    return prepared.targets.stores[name].path


@pytest.mark.parametrize("damage", ["flip_shard", "truncate_shard", "delete_index"])
def test_a_damaged_target_store_is_rebuilt_not_read(env, damage, caplog):
    store = _store(_prepare(env))
    shard = next(store.glob("shard-*.safetensors"))
    original = {p.name: sha256_file(p) for p in store.iterdir()}
    {"flip_shard": flip_byte, "truncate_shard": truncate, "delete_index": lambda _: (store / "index.json").unlink()}[damage](shard)
    with pytest.raises(CorruptArtifact, match="teacher-target store"):
        TargetStore(store)
    again = _store(_prepare(env))
    assert again == store and "damaged or incomplete; rebuilding" in caplog.text
    assert {p.name: sha256_file(p) for p in store.iterdir()} == original  # the same targets, rebuilt
    TargetStore(store)


def test_a_damaged_zoo_model_is_rebuilt(env):
    folder = ensure_zoo_model("internvl3", "student")
    weights = folder / "model.safetensors"
    good = sha256_file(weights)
    stale = folder.parent / f".{folder.name}.killed-build"
    stale.mkdir()
    flip_byte(weights)
    assert ensure_zoo_model("internvl3", "student") == folder
    assert sha256_file(weights) == good and not stale.exists()
    (folder / "config.json").unlink()  # without it transformers would build the full-size default
    ensure_zoo_model("internvl3", "student")
    assert (folder / "config.json").is_file()


@pytest.mark.slow
def test_a_damaged_fine_tuned_teacher_is_rebuilt(env, caplog):
    sft = ", sft: {max_steps: 1, lr: 1.0e-3, batch_size: 4}"
    _prepare(env, sft)
    (folder,) = [p for p in (Path(os.environ["HARNESS_CACHE"]) / "sft").iterdir()
                 if p.is_dir() and not p.name.startswith(".")]
    weights = folder / "model.safetensors"
    good = sha256_file(weights)
    truncate(weights)
    _prepare(env, sft)
    assert "fine-tuned model" in caplog.text and sha256_file(weights) == good


def test_a_damaged_synthetic_benchmark_is_regenerated(tmp_path, caplog):
    config = SynthConfig(seed=3, train=8, eval=8, corruptions=("fog",))
    out = tmp_path / "bench"
    ensure(out, config)
    image = next(out.glob("images/eval/clean/*/*.png"))
    good = sha256_file(image)
    flip_byte(image)
    stale = tmp_path / ".bench.killed"
    stale.mkdir()
    ensure(out, config)
    assert sha256_file(image) == good and not stale.exists() and "regenerating" in caplog.text
    (out / "train.json").unlink()
    ensure(out, config)
    assert (out / "train.json").is_file()


def test_a_damaged_benchmark_built_from_other_options_is_refused_naming_the_file(tmp_path):
    out = tmp_path / "bench"
    ensure(out, SynthConfig(seed=3, train=8, eval=8, corruptions=()))
    flip_byte(out / "drivebench-clean.json", 10)
    with pytest.raises(DataError, match=r"drivebench-clean.json: the synthetic benchmark is corrupt.*not regenerated"):
        ensure(out, SynthConfig(seed=4, train=8, eval=8, corruptions=()))
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3  # left as it was
