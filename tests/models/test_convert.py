"""`harness convert`: original (remote-code) InternVL3 weight names → the -hf layout, and the loader's refusal."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from harness.models import load_model
from harness.models.base import ModelLoadError
from harness.models.convert_internvl import ConvertError, convert_folder, convert_state_dict
from harness.models.zoo import ensure_zoo_model

# Weight names of the released OpenGVLab/InternVL3 checkpoints (remote code), one of each kind.
OFFICIAL_KEYS = {
    "vision_model.embeddings.class_embedding": "vision_tower.embeddings.cls_token",
    "vision_model.embeddings.position_embedding": "vision_tower.embeddings.position_embeddings",
    "vision_model.embeddings.patch_embedding.weight": "vision_tower.embeddings.patch_embeddings.projection.weight",
    "vision_model.encoder.layers.3.ls1": "vision_tower.encoder.layer.3.lambda_1",
    "vision_model.encoder.layers.3.ls2": "vision_tower.encoder.layer.3.lambda_2",
    "vision_model.encoder.layers.3.norm1.weight": "vision_tower.encoder.layer.3.layernorm_before.weight",
    "vision_model.encoder.layers.3.norm2.bias": "vision_tower.encoder.layer.3.layernorm_after.bias",
    "vision_model.encoder.layers.3.attn.proj.weight": "vision_tower.encoder.layer.3.attention.projection_layer.weight",
    "vision_model.encoder.layers.3.attn.q_norm.weight": "vision_tower.encoder.layer.3.attention.q_norm.weight",
    "vision_model.encoder.layers.3.mlp.fc1.weight": "vision_tower.encoder.layer.3.mlp.fc1.weight",
    "mlp1.0.weight": "multi_modal_projector.layer_norm.weight",
    "mlp1.1.bias": "multi_modal_projector.linear_1.bias",
    "mlp1.3.weight": "multi_modal_projector.linear_2.weight",
    "language_model.model.layers.0.self_attn.q_proj.weight": "language_model.model.layers.0.self_attn.q_proj.weight",
    "language_model.lm_head.weight": "language_model.lm_head.weight",
}


def test_official_names_map_to_the_hf_layout():
    state = {k: torch.randn(2, 2) for k in OFFICIAL_KEYS}
    out = convert_state_dict(state)
    assert set(out) == set(OFFICIAL_KEYS.values())
    for old, new in OFFICIAL_KEYS.items():
        assert torch.equal(out[new], state[old])


def test_fused_vision_qkv_splits_into_q_k_v_in_that_order():
    qkv = torch.arange(6 * 4, dtype=torch.float32).reshape(6, 4)
    out = convert_state_dict({"vision_model.encoder.layers.0.attn.qkv.weight": qkv,
                              "vision_model.encoder.layers.0.attn.qkv.bias": torch.arange(6.0)})
    prefix = "vision_tower.encoder.layer.0.attention."
    assert torch.equal(out[prefix + "q_proj.weight"], qkv[:2]) and torch.equal(out[prefix + "v_proj.weight"], qkv[4:])
    assert out[prefix + "k_proj.bias"].tolist() == [2.0, 3.0]


def test_internlm_checkpoints_and_foreign_weights_are_refused():
    with pytest.raises(ConvertError, match="InternVL3-9B"):
        convert_state_dict({"language_model.model.layers.0.attention.wqkv.weight": torch.zeros(3, 2)})
    with pytest.raises(ConvertError, match="not part of an InternVL3 checkpoint"):
        convert_state_dict({"text_encoder.weight": torch.zeros(1)})


def _original_folder(zoo: "Path", out: "Path") -> None:
    """The zoo student written as the remote code would: official names, fused qkv, llm_config/vision_config."""
    hf = load_file(str(zoo / "model.safetensors"))
    back = {}
    for key, t in hf.items():
        if key.startswith("vision_tower."):
            k = key.replace("vision_tower.", "vision_model.").replace(".layer.", ".layers.")
            k = (k.replace("cls_token", "class_embedding").replace("position_embeddings", "position_embedding")
                  .replace("patch_embeddings.projection", "patch_embedding").replace("lambda_", "ls")
                  .replace("attention.projection_layer", "attn.proj").replace("layernorm_before", "norm1")
                  .replace("layernorm_after", "norm2").replace(".attention.", ".attn."))
            if ".attn.q_proj." in k:
                parts = [hf[key.replace("q_proj", p)] for p in ("q_proj", "k_proj", "v_proj")]
                back[k.replace("q_proj", "qkv")] = torch.cat(parts)
            elif ".attn.k_proj." in k or ".attn.v_proj." in k:
                continue
            else:
                back[k] = t
        elif key.startswith("multi_modal_projector."):
            k = (key.replace("multi_modal_projector.layer_norm.", "mlp1.0.").replace("multi_modal_projector.linear_1.", "mlp1.1.")
                 .replace("multi_modal_projector.linear_2.", "mlp1.3."))
            back[k] = t
        else:
            back[key] = t
    assert not any(k.startswith(("vision_tower", "multi_modal")) for k in back)
    out.mkdir()
    save_file(back, str(out / "model.safetensors"))
    hf_config = json.loads((zoo / "config.json").read_text())
    vision = dict(hf_config["vision_config"])
    vision["qkv_bias"] = vision.pop("attention_bias")
    vision["qk_normalization"] = vision.pop("use_qk_norm")
    config = {"architectures": ["InternVLChatModel"], "model_type": "internvl_chat", "auto_map": {},
              "llm_config": {**hf_config["text_config"], "architectures": ["Qwen2ForCausalLM"]},
              "vision_config": vision, "downsample_ratio": hf_config["downsample_ratio"], "select_layer": -1,
              "tie_word_embeddings": hf_config["tie_word_embeddings"]}
    (out / "config.json").write_text(json.dumps(config))


def test_a_converted_original_folder_loads_and_computes_what_the_hf_one_does(tmp_path, zoo_cache):
    zoo = ensure_zoo_model("internvl3", "student")
    original = tmp_path / "InternVL3-tiny"
    _original_folder(zoo, original)
    with pytest.raises(ModelLoadError, match="harness convert SRC DST"):
        load_model({"family": "internvl3", "path": str(original)})
    converted = convert_folder(original, tmp_path / "InternVL3-tiny-hf", processor=zoo)
    a = load_model({"family": "internvl3", "path": str(converted)})
    b = load_model({"family": "internvl3", "zoo": "student"})
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    with pytest.raises(ConvertError, match="exists"):
        convert_folder(original, converted, processor=zoo)


def test_cli_refuses_a_folder_that_is_not_original_in_one_line(tmp_path, zoo_cache, capsys):
    from harness.cli import main

    zoo = ensure_zoo_model("internvl3", "student")
    assert main(["convert", str(zoo), str(tmp_path / "out"), "--processor", str(zoo)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not an original InternVL checkpoint" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
