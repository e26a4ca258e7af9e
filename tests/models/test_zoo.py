"""The tiny zoo: built offline, deterministic, three sizes per family, loaded via from_pretrained."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from harness.models import load_model
from harness.models.zoo import STAMP, build_model, list_zoo, model_folder, zoo_families, zoo_sizes

from harness.registry import FAMILIES as REGISTERED

FAMILIES = sorted(REGISTERED.names())  # every registered family has a tiny zoo


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_family_has_three_sizes(zoo_cache):
    assert sorted(zoo_families()) == FAMILIES
    for family in FAMILIES:
        assert zoo_sizes(family) == ["student", "teacher_s", "teacher_l"]
        for size in zoo_sizes(family):
            folder = model_folder(family, size)
            for name in ("config.json", "model.safetensors", "tokenizer.json", "processor_config.json", STAMP):
                assert (folder / name).is_file(), f"{folder}/{name}"


@pytest.mark.parametrize("family", FAMILIES)
def test_sizes_differ_in_depth_width_and_heads(family, zoo_cache):
    rows = [r for r in list_zoo() if r["family"] == family]
    for key in ("layers", "hidden", "heads"):
        values = [r[key] for r in rows]
        assert len(set(values)) == 3, (key, values)
    assert all(r["built"] for r in rows)


@pytest.mark.parametrize("family", FAMILIES)
def test_rebuild_gives_identical_tensors(family, zoo_cache):
    folder = model_folder(family, "student")
    before = load_file(folder / "model.safetensors")
    digest = _digest(folder / "model.safetensors")
    build_model(family, "student", force=True)
    after = load_file(folder / "model.safetensors")
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert _digest(folder / "model.safetensors") == digest


@pytest.mark.parametrize("family", FAMILIES)
def test_sizes_of_a_family_share_tokenizer_and_image_layout(family, zoo_cache):
    folders = [model_folder(family, s) for s in zoo_sizes(family)]
    tokenizers = {_digest(f / "tokenizer.json") for f in folders}
    processors = {_digest(f / "processor_config.json") for f in folders}
    assert len(tokenizers) == 1 and len(processors) == 1
    vision = [json.loads((f / "config.json").read_text())["vision_config"] for f in folders]
    assert all(v["patch_size"] == vision[0]["patch_size"] for v in vision)


def test_families_differ_in_image_tokens(zoo_cache):
    a = json.loads((model_folder("internvl3", "student") / "tokenizer_config.json").read_text())
    b = json.loads((model_folder("qwen2_5_vl", "student") / "tokenizer_config.json").read_text())
    assert "<IMG_CONTEXT>" in json.dumps(a) and "<|image_pad|>" in json.dumps(b)


@pytest.mark.parametrize("family", FAMILIES)
def test_path_and_zoo_load_the_same_weights(family, zoo_cache):
    by_zoo = load_model({"family": family, "zoo": "teacher_s"})
    by_path = load_model({"family": family, "path": str(model_folder(family, "teacher_s"))})
    a, b = by_zoo.model.state_dict(), by_path.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert by_zoo.depth == 6 and by_zoo.image_side == 56


def test_stale_stamp_triggers_rebuild(zoo_cache):
    folder = model_folder("internvl3", "teacher_l")
    (folder / STAMP).write_text(json.dumps({"fingerprint": "old"}))
    assert not [r for r in list_zoo() if r["family"] == "internvl3" and r["size"] == "teacher_l"][0]["built"]
    load_model({"family": "internvl3", "zoo": "teacher_l"})
    assert [r for r in list_zoo() if r["family"] == "internvl3" and r["size"] == "teacher_l"][0]["built"]


@pytest.mark.slow
def test_concurrent_first_use_builds_once_and_cleanly(tmp_path):
    """Two processes auto-building the same model at once both get a loadable folder."""
    code = (
        "from harness.models import load_model;"
        "m = load_model({'family': 'qwen2_5_vl', 'zoo': 'student'}); print(m.depth)"
    )
    env = dict(os.environ, HARNESS_CACHE=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all(o[0].strip() == "4" for o in outs)
    leftovers = [p.name for p in (tmp_path / "zoo" / "qwen2_5_vl").iterdir() if p.name.startswith(".student-")]
    assert leftovers == []
