"""The registered datasets: recipe options are their keyword arguments; settings load as documented."""

from __future__ import annotations

import inspect

import pytest
from PIL import Image

from harness.data.errors import DataError
from harness.registry import DATASETS

from .conftest import BITERROR, CLEAN


def test_datasets_are_registered_with_typed_keyword_options():
    import harness.data  # noqa: F401  (registers)

    assert {"drivebench", "drivekd_conversations", "synthetic"} <= set(DATASETS.names())
    for name in ("drivebench", "drivekd_conversations", "synthetic"):
        params = inspect.signature(DATASETS.get(name)).parameters.values()
        assert all(p.kind is p.POSITIONAL_OR_KEYWORD and p.annotation is not p.empty for p in params), name


def test_synthetic_dataset_builds_once_and_serves_every_setting(tmp_path):
    dataset = DATASETS.get("synthetic")(seed=2, train=16, eval=16, image_size=32, corruptions=["fog"],
                                        root=str(tmp_path / "bench"))
    assert dataset.settings() == ["clean", "text_only", "fog"]
    clean = dataset.eval_items("clean")
    assert len(clean) == 16 and len(dataset.train_samples()) == 16
    stamp = (tmp_path / "bench" / "manifest.json").stat().st_mtime_ns
    assert [i.id for i in dataset.eval_items("fog")] == [i.id for i in clean]
    assert (tmp_path / "bench" / "manifest.json").stat().st_mtime_ns == stamp  # not rebuilt
    with pytest.raises(DataError, match="no setting 'rain'"):
        dataset.eval_items("rain")


def test_synthetic_corruptions_may_be_comma_separated_text():
    # `harness eval --data-option corruptions=fog,low_light` passes the text as it is; it
    # used to be read letter by letter ("unknown corruption 'f'").
    text = DATASETS.get("synthetic")(seed=1, corruptions="fog, low_light")
    listed = DATASETS.get("synthetic")(seed=1, corruptions=["fog", "low_light"])
    assert text.settings() == ["clean", "text_only", "fog", "low_light"]
    assert text.root == listed.root


def test_synthetic_dataset_defaults_to_a_content_addressed_cache_folder():
    a = DATASETS.get("synthetic")(seed=1)
    b = DATASETS.get("synthetic")(seed=1)
    c = DATASETS.get("synthetic")(seed=2)
    assert a.root == b.root != c.root


def test_drivebench_dataset_settings(tmp_path):
    dataset = DATASETS.get("drivebench")(path=str(CLEAN), corruption_files={"BitError": str(BITERROR)},
                                         check_images=False)
    assert dataset.settings() == ["clean", "text_only", "BitError"]
    text_only = dataset.eval_items("text_only")
    assert len(text_only) == 50 and {i.setting for i in text_only} == {"text_only"}
    assert Image.open(next(iter(text_only[0].cameras.values()))).getextrema() == ((0, 0), (0, 0), (0, 0))
    bit = dataset.eval_items("BitError")
    assert len(bit) == 25 and {i.setting for i in bit} == {"BitError"}
    samples = dataset.train_samples()
    assert len(samples) == 50 and samples[1].answer == "A" and samples[1].capability == "perception"
    with pytest.raises(DataError, match="did you mean 'BitError'"):
        dataset.eval_items("biterror")


def test_conversations_dataset_is_training_only(synth_root):
    dataset = DATASETS.get("drivekd_conversations")(path=str(synth_root / "train.json"))
    assert len(dataset.train_samples()) == 80
    with pytest.raises(DataError, match="is training data"):
        dataset.eval_items()
