"""What the demo runs: the demo ablation file, and its quick (test-sized) form.

The demo is plain data: ``ablations/tiny/demo.yaml`` names every student the mini
paper trains (the colour study: SFT, the perception teacher alone, AGP and the negative
control, for both families) and their shipped teachers; any other study of the same form
runs through the same pipeline with ``harness demo --ablation`` (e.g.
``ablations/tiny/drivebench_methods.yaml``, seven methods × two families × two seeds on the
DriveBench-style mix). This module only reads the file, and for ``quick`` shrinks every size
in it (data, steps, generation length) so the whole pipeline runs in a test in about a
minute, the same code path with nothing skipped.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.paths import REPO_ROOT

DEMO_ABLATION = REPO_ROOT / "ablations" / "tiny" / "demo.yaml"
#: The seven-method DriveBench-style study (`harness demo --ablation`), the demo before issue 19.
DRIVEBENCH_ABLATION = REPO_ROOT / "ablations" / "tiny" / "drivebench_methods.yaml"
FAMILIES = ("internvl3", "qwen2_5_vl")
# The variant whose fine-tuned student and teachers stand for its family when the demo
# evaluates them on their own (every variant of a family shares them).
REFERENCE_VARIANT = "{family}_agp"
BASELINE_METHOD = "SFT (CE only)"
MULTI_AGP = "multi-teacher: AGP"
SINGLE_PERCEPTION = "single teacher: perception"
NEGATIVE_CONTROL = "negative control: perception from a permuted teacher"
#: Table 3's rows, in the paper's order.
METHODS = (BASELINE_METHOD, SINGLE_PERCEPTION, "single teacher: reasoning", "single teacher: planning",
           "multi-teacher: sum", "multi-teacher: PCGrad", MULTI_AGP, NEGATIVE_CONTROL)

# quick: every size cut down (synthetic counts, steps, generation length)
QUICK_DATA = {"train": 24, "eval": 24}
QUICK_STEPS = 2
QUICK_TOKENS = 8
QUICK_MECHANISM_ITEMS = 8


@dataclass(frozen=True)
class DemoPlan:
    """Where the demo reads its study from and writes everything it makes."""

    ablation: Path  # the effective ablation file (written under out/)
    out: Path  # results/demo: runs/, evals/, sweeps/, figures/, report.*
    quick: bool
    workers: int
    source: Path = DEMO_ABLATION  # the study file it was made from


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"{path}: cannot read the demo's ablation file ({exc})") from None
    if not isinstance(data, dict) or "variants" not in data:
        raise HarnessError(f"{path}: not an ablation file (no 'variants')")
    return data


def _shrink(node: Any) -> Any:
    """A copy of ``node`` with every size cut to the quick form (pure)."""
    if isinstance(node, list):
        return [_shrink(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _shrink(v) for k, v in node.items()}
    if out.get("name") == "synthetic":
        for key, cap in QUICK_DATA.items():
            out[key] = min(int(out.get(key, cap)), cap)
    for key in ("sft", "train"):
        block = out.get(key)
        if isinstance(block, dict) and key in node and not isinstance(node[key], str):
            block = dict(block)
            block["max_steps"] = QUICK_STEPS
            if block.get("grounding_steps"):
                block["grounding_steps"] = QUICK_STEPS
            if key == "train":
                block["checkpoint_every"] = 0
            out[key] = block
    return out


def _absolute_model_paths(node: Any, folder: Path) -> Any:
    """A copy of ``node`` with every model ``path`` (a mapping with ``family`` and ``path``) made
    absolute against ``folder``, so the written ablation loads the shipped teachers from anywhere."""
    if isinstance(node, list):
        return [_absolute_model_paths(v, folder) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _absolute_model_paths(v, folder) for k, v in node.items()}
    if "family" in out and isinstance(out.get("path"), str):
        out["path"] = str((folder / out["path"]).resolve())
    return out


def effective_ablation(source: Path = DEMO_ABLATION, *, quick: bool = False) -> dict[str, Any]:
    """The demo's ablation as data, with ``base`` and model paths made absolute (and shrunk when ``quick``)."""
    data = _absolute_model_paths(copy.deepcopy(_read(source)), source.parent)
    data["base"] = str((source.parent / data["base"]).resolve())
    if not quick:
        return data
    data = _shrink(data)
    data["name"] = f"{data['name']}_quick"
    overrides = dict(data.get("overrides") or {})
    eval_block = dict(overrides.get("eval") or {})
    eval_block["max_new_tokens"] = QUICK_TOKENS
    overrides["eval"] = eval_block
    data["overrides"] = overrides
    return data


def families(ablation: dict[str, Any]) -> list[str]:
    """The families that have a reference variant in the ablation, in the demo's order."""
    variants = ablation.get("variants") or {}
    return [f for f in FAMILIES if REFERENCE_VARIANT.format(family=f) in variants]
