"""Scale tables, load errors and `init: random` for both families."""

import pytest
import torch

from harness.errors import HarnessError
from harness.models import ModelLoadError, ModelSource, get_adapter, load_model, scale_names
from harness.models.base import Scale
from harness.registry import FAMILIES

# Published total parameter counts (billions) of the checkpoints the scale tables describe.
PUBLISHED = {
    "internvl3": {"1b": 0.938, "2b": 2.09, "8b": 7.94, "14b": 15.1, "38b": 38.4, "78b": 78.4},
    "qwen2_5_vl": {"3b": 3.75, "7b": 8.29, "32b": 33.5, "72b": 73.4},
    "qwen3_vl": {"4b": 4.44, "8b": 8.77},  # the model cards' totals (the 2B's is given only as "2B")
}
DEPTHS = {"internvl3": {"1b": 24, "8b": 28}, "qwen2_5_vl": {"3b": 36, "7b": 28}, "qwen3_vl": {"4b": 36, "8b": 36}}
# Image tokens of one 448-px tile at the real scales: 14-px patches merged 2×2 (InternVL3's pixel
# shuffle, Qwen2.5-VL) give 256; Qwen3-VL's 16-px patches merged 2×2 give 196.
TOKENS_PER_448_TILE = {"internvl3": 256, "qwen2_5_vl": 256, "qwen3_vl": 196}


def test_scale_tables():
    assert scale_names("internvl3") == ["1b", "2b", "8b", "14b", "38b", "78b"]
    assert scale_names("qwen2_5_vl") == ["3b", "7b", "32b", "72b"]
    assert get_adapter("internvl3").scale("8b").hub_id == "OpenGVLab/InternVL3-8B-hf"
    assert get_adapter("qwen2_5_vl").scale("3b").hub_id == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert scale_names("qwen3_vl") == ["2b", "4b", "8b"]
    assert get_adapter("qwen3_vl").scale("2b").text["num_hidden_layers"] == 28


@pytest.mark.parametrize("family", FAMILIES.names())
def test_random_architectures_match_published_sizes(family):
    """Building each scale on the meta device checks the architecture figures without memory."""
    assert family in PUBLISHED, f"family '{family}': list its checkpoints' published totals in PUBLISHED"
    adapter = get_adapter(family)
    for name, published in PUBLISHED[family].items():
        scale = adapter.scale(name)
        config = adapter.build_config(scale, adapter.offline_processor(scale=scale))
        with torch.device("meta"):
            model = adapter.model_class._from_config(config)
        billions = sum(p.numel() for p in model.parameters()) / 1e9
        assert abs(billions - published) / published < 0.02, (family, name, billions)
        if name in DEPTHS[family]:
            assert len(adapter.decoder_layers(model)) == DEPTHS[family][name]


def test_unknown_scale_suggests_closest():
    with pytest.raises(ModelLoadError, match=r"unknown scale '8B'.*did you mean '8b'"):
        load_model({"family": "internvl3", "scale": "8B"})


def test_unknown_family_is_one_line_error():
    with pytest.raises(HarnessError, match=r"unknown family 'internvl'; did you mean 'internvl3'"):
        load_model({"family": "internvl", "scale": "1b"})


def test_missing_weights_name_the_hub_id_and_how_to_give_a_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as info:
        load_model({"family": "qwen2_5_vl", "scale": "3b"})
    message = str(info.value)
    assert "'Qwen/Qwen2.5-VL-3B-Instruct'" in message and "path: DIR" in message and "init: random" in message
    assert "\n" not in message


def test_unreachable_hub_fails_at_once_with_the_one_line_advice(monkeypatch):
    """No weights on disk and no network: one probe (seconds), not minutes of hub retries."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("OpenGVLab/InternVL3-1B-hf", "config.json"), str):
        pytest.skip("InternVL3-1B is in this machine's hub cache")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(ModelLoadError) as info:
        load_model({"family": "internvl3", "scale": "1b"})
    message = str(info.value)
    assert "http://127.0.0.1:9 is not reachable" in message and "path: DIR" in message and "\n" not in message


def test_init_random_zoo_differs_by_seed():
    a = load_model({"family": "internvl3", "zoo": "student", "init": "random", "seed": 1})
    b = load_model({"family": "internvl3", "zoo": "student", "init": "random", "seed": 2})
    c = load_model({"family": "internvl3", "zoo": "student", "init": "random", "seed": 1})
    wa, wb, wc = (torch.cat([p.reshape(-1) for p in m.model.parameters()]) for m in (a, b, c))
    assert torch.equal(wa, wc) and not torch.equal(wa, wb)
    assert a.name == "internvl3:zoo/student(random)"


def test_bad_path_names_the_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="is not a folder"):
        load_model({"family": "internvl3", "path": str(tmp_path / "nope")})
    with pytest.raises(ModelLoadError, match=r"config.json is missing \(an incomplete model folder\)"):
        load_model({"family": "internvl3", "path": str(tmp_path)})
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match=r"cannot load .* as a internvl3 checkpoint"):
        load_model({"family": "internvl3", "path": str(tmp_path)})


def test_source_validation():
    with pytest.raises(ModelLoadError, match="exactly one of scale, path or zoo"):
        ModelSource.from_spec({"family": "internvl3", "scale": "1b", "zoo": "student"})
    with pytest.raises(ModelLoadError, match="needs a scale or zoo size"):
        ModelSource.from_spec({"family": "internvl3", "path": "/tmp", "init": "random"})
    assert ModelSource.from_spec({"family": "internvl3", "zoo": "student", "init": "random", "seed": 3}).seed == 3
    assert ModelSource.from_spec({"family": "internvl3", "zoo": "student", "seed": 3}).seed is None  # pretrained
    assert ModelSource.from_spec({"family": "internvl3", "scale": "1b"}).trust_remote_code is False


def test_unknown_zoo_size(zoo_cache):
    with pytest.raises(ModelLoadError, match="did you mean 'student'"):
        load_model({"family": "qwen2_5_vl", "zoo": "studnet"})


@pytest.mark.parametrize("family", FAMILIES.names())
def test_init_random_builds_the_scale_and_runs(family, samples):
    """`init: random` of a (small, test-only) scale: real code path, no download, forward works."""
    base = FAMILIES.get(family)
    tiny = Scale("none/tiny", base.zoo_scales["student"].text, base.zoo_scales["student"].vision, {})

    class TinyScales(base):
        scales = {"tiny": tiny}

    loaded = TinyScales().load(ModelSource.from_spec({"family": family, "scale": "tiny", "init": "random"}))
    assert loaded.depth == 4 and loaded.name == f"{family}:tiny(random)" and loaded.image_side == 56
    from harness.data.collate import collate_train

    batch = collate_train(samples[:2], loaded)
    out = loaded.model(**batch.model_inputs(with_labels=True))
    assert torch.isfinite(out.loss)


def test_recipe_validator_sees_scales_and_zoo_sizes():
    cls = FAMILIES.get("internvl3")
    assert "1b" in list(cls.scales) and cls.zoo_sizes() == ["student", "teacher_s", "teacher_l"]


@pytest.mark.parametrize("family", FAMILIES.names())
def test_real_scales_use_one_448_tile(family):
    from PIL import Image

    assert family in TOKENS_PER_448_TILE, f"family '{family}': give its image tokens per 448-px tile"
    adapter = get_adapter(family)
    scale = adapter.scale(adapter.scale_names()[0])
    processor = adapter.offline_processor(scale=scale)
    config = adapter.build_config(scale, processor)
    assert adapter.image_side_of(config, processor) == 448
    text = adapter.prompt_text(processor, 1, "Q?")
    ids = processor(images=[Image.new("RGB", (448, 448))], text=[text], return_tensors="pt")["input_ids"]
    assert int(adapter.image_token_mask(config, ids).sum()) == TOKENS_PER_448_TILE[family]
