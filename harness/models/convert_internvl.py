"""Original (remote-code) InternVL3 checkpoints → the transformers-native ``-hf`` layout.

Drive-KD's released code loads ``OpenGVLab/InternVL3-*`` with ``trust_remote_code``;
its checkpoints (and any student saved by it) use that code's weight names. The harness
loads the ``-hf`` layout that transformers implements, so such a folder is converted
once (``harness convert SRC DST --processor HF_FOLDER``) or refused with a message that
says so. The renaming was learned from transformers' own conversion script for InternVL
and written anew here; it covers the Qwen2-based InternVL3 models (1B, 2B, 8B, 14B, 38B,
78B), not the InternLM-based 9B, whose fused ``wqkv`` needs a head-aware split.

Weights: vision ``vision_model.*`` → ``vision_tower.*`` (``layers`` → ``layer``,
``attn.qkv`` split into ``q_proj``/``k_proj``/``v_proj``, ``attn.proj`` →
``projection_layer``, ``ls1/ls2`` → ``lambda_1/2``, ``norm1/2`` → ``layernorm_before/
after``, embeddings renamed); projector ``mlp1.0/1/3`` → ``multi_modal_projector.
layer_norm/linear_1/linear_2``; the language model's names are already the ``-hf``
ones. Pure functions on names and tensors, plus one folder writer.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Iterator

import torch

from harness.errors import HarnessError

_VISION_RENAMES = (
    (r"^vision_model\.", "vision_tower."),
    (r"\.layers\.", ".layer."),
    (r"embeddings\.class_embedding$", "embeddings.cls_token"),
    (r"embeddings\.position_embedding$", "embeddings.position_embeddings"),
    (r"embeddings\.patch_embedding\.", "embeddings.patch_embeddings.projection."),
    (r"\.ls(\d)$", r".lambda_\1"),
    (r"\.attn\.proj\.", ".attention.projection_layer."),
    (r"\.attn\.", ".attention."),
    (r"\.norm1\.", ".layernorm_before."),
    (r"\.norm2\.", ".layernorm_after."),
)
_PROJECTOR = {"mlp1.0.": "multi_modal_projector.layer_norm.", "mlp1.1.": "multi_modal_projector.linear_1.",
              "mlp1.3.": "multi_modal_projector.linear_2."}
# config keys of the remote code that the -hf configs do not have
_DROP = {"_name_or_path", "auto_map", "architectures", "use_bfloat16", "use_flash_attn", "drop_path_rate",
         "_attn_implementation_autoset", "transformers_version", "model_type", "torch_dtype"}


class ConvertError(HarnessError):
    """A checkpoint that cannot be converted (the message says why)."""


def is_remote_code_internvl(folder: str | Path) -> bool:
    """True for a folder holding an original InternVL checkpoint (``InternVLChatModel``)."""
    config = Path(folder) / "config.json"
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return data.get("model_type") == "internvl_chat" or "InternVLChatModel" in (data.get("architectures") or [])


def refusal(folder: str | Path) -> str:
    """The message a loader gives for an original-layout folder."""
    return (f"'{folder}' is an original remote-code InternVL checkpoint (InternVLChatModel), which the harness "
            "does not load; convert it once: harness convert SRC DST --processor FOLDER_OF_THE_-hf_MODEL "
            "(docs/reproducing.md), then give 'path: DST'")


def convert_key(key: str) -> str:
    """The ``-hf`` name of one original weight name (``attn.qkv`` keeps its fused name; see :func:`convert_tensors`)."""
    if key.startswith("vision_model."):
        for pattern, repl in _VISION_RENAMES:
            key = re.sub(pattern, repl, key)
        return key
    for old, new in _PROJECTOR.items():
        if key.startswith(old):
            return new + key[len(old):]
    if key.startswith("language_model."):
        return key
    raise ConvertError(f"weight '{key}' is not part of an InternVL3 checkpoint (vision_model, mlp1, language_model)")


def convert_tensors(key: str, tensor: torch.Tensor) -> Iterator[tuple[str, torch.Tensor]]:
    """The ``-hf`` (name, tensor) pairs of one original weight: a fused ``qkv`` becomes three."""
    if key.startswith("language_model.") and (".wqkv." in key or ".attention.wo." in key):
        raise ConvertError("InternLM-based InternVL checkpoints (InternVL3-9B) are not supported by harness convert")
    new = convert_key(key)
    if ".attention.qkv." in new:
        if tensor.shape[0] % 3:
            raise ConvertError(f"weight '{key}': fused qkv of {tensor.shape[0]} rows does not split in three")
        for part, chunk in zip(("q_proj", "k_proj", "v_proj"), tensor.chunk(3, dim=0)):
            yield new.replace(".attention.qkv.", f".attention.{part}."), chunk.contiguous()
        return
    yield new, tensor


def convert_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A whole original state dict in the ``-hf`` layout."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        for new, value in convert_tensors(key, tensor):
            out[new] = value
    return out


def convert_config(original: dict) -> dict:
    """The ``-hf`` config.json (as a dict) of an original InternVL3 config."""
    llm = dict(original.get("llm_config") or {})
    vision = dict(original.get("vision_config") or {})
    if not llm or not vision:
        raise ConvertError("config.json has no llm_config / vision_config: not an original InternVL checkpoint")
    if "qwen2" not in str(llm.get("model_type", "")) and not any("Qwen2" in a for a in llm.get("architectures") or []):
        raise ConvertError(f"the language model is {llm.get('architectures') or llm.get('model_type')}; "
                           "harness convert handles the Qwen2-based InternVL3 models only")
    text = {k: v for k, v in llm.items() if k not in _DROP}
    text["model_type"] = "qwen2"
    if int(text.get("vocab_size", 0)) > 151645:
        text["eos_token_id"] = 151645  # <|im_end|>, as the -hf InternVL3 configs have it
    renames = {"qk_normalization": "use_qk_norm", "qkv_bias": "attention_bias"}
    vis = {renames.get(k, k): v for k, v in vision.items() if k not in _DROP}
    if "attention_probs_dropout_prob" in vis:
        vis["attention_dropout"] = vis["projection_dropout"] = vis.pop("attention_probs_dropout_prob")
    vis["use_absolute_position_embeddings"] = True
    vis["model_type"] = "internvl_vision"
    ratio = float(original.get("downsample_ratio", 0.5))
    size = vis.get("image_size", 448)
    size = size[0] if isinstance(size, (list, tuple)) else size
    patch = vis.get("patch_size", 14)
    patch = patch[0] if isinstance(patch, (list, tuple)) else patch
    return {
        "architectures": ["InternVLForConditionalGeneration"],
        "model_type": "internvl",
        "text_config": text,
        "vision_config": vis,
        "image_token_id": 151667,
        "image_seq_length": int((size // patch * ratio) ** 2),
        "downsample_ratio": ratio,
        "projector_hidden_act": "gelu",
        "vision_feature_layer": int(original.get("select_layer", -1)),
        "vision_feature_select_strategy": "default",
        "tie_word_embeddings": bool(original.get("tie_word_embeddings", llm.get("tie_word_embeddings", False))),
    }


_PROCESSOR_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                    "vocab.json", "merges.txt", "chat_template.json", "chat_template.jinja", "processor_config.json",
                    "preprocessor_config.json", "video_preprocessor_config.json", "generation_config.json")


def convert_folder(src: str | Path, dst: str | Path, processor: str | Path, *, shard_bytes: int = 4 << 30) -> Path:
    """Write ``dst`` as an ``-hf`` InternVL checkpoint: converted weights and config, the processor of ``processor``.

    ``processor`` is a folder of the matching ``-hf`` model (the tokenizer and image
    processor of a model are unchanged by fine-tuning). ``dst`` must not exist; it is
    built aside and renamed, so a failure leaves nothing behind.
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    from harness.files import atomic_folder

    src, dst, processor = Path(src), Path(dst), Path(processor)
    if not is_remote_code_internvl(src):
        raise ConvertError(f"'{src}' is not an original InternVL checkpoint (its config.json is not InternVLChatModel)")
    if dst.exists():
        raise ConvertError(f"'{dst}' exists; give a new folder")
    if not (processor / "preprocessor_config.json").is_file() and not (processor / "processor_config.json").is_file():
        raise ConvertError(f"--processor '{processor}' has no processor files; give the folder of the -hf model "
                           "(e.g. a download of OpenGVLab/InternVL3-1B-hf)")
    shards = sorted(src.glob("*.safetensors"))
    if not shards:
        raise ConvertError(f"'{src}' has no .safetensors weights")
    config = convert_config(json.loads((src / "config.json").read_text(encoding="utf-8")))
    with atomic_folder(dst) as tmp:
        tmp = Path(tmp)
        index: dict[str, str] = {}
        pending: dict[str, torch.Tensor] = {}
        size, count = 0, 0

        def flush() -> None:
            nonlocal pending, size, count
            if pending:
                count += 1
                name = f"model-{count:05d}.safetensors"
                save_file(pending, str(tmp / name), metadata={"format": "pt"})
                index.update({k: name for k in pending})
                pending, size = {}, 0

        for shard in shards:
            with safe_open(str(shard), "pt") as f:
                for key in f.keys():
                    for new, tensor in convert_tensors(key, f.get_tensor(key)):
                        pending[new] = tensor
                        size += tensor.numel() * tensor.element_size()
                        if size >= shard_bytes:
                            flush()
        flush()
        if count == 1:
            (tmp / "model-00001.safetensors").rename(tmp / "model.safetensors")
        else:
            total = sum((tmp / n).stat().st_size for n in set(index.values()))
            (tmp / "model.safetensors.index.json").write_text(
                json.dumps({"metadata": {"total_size": total}, "weight_map": index}, indent=1), encoding="utf-8")
        (tmp / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        for name in _PROCESSOR_FILES:
            if (processor / name).is_file():
                shutil.copy2(processor / name, tmp / name)
    return dst
