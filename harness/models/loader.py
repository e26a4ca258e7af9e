"""Loading a model from recipe data: the family's adapter, and the tiny zoo for ``zoo:`` sources.

The adapters (:mod:`harness.models.base` and one file per family) know how to load
a folder or a hub id; whether a ``zoo:`` size exists and where its built folder is
belongs to the zoo (:mod:`harness.models.zoo`), so it is resolved here.
"""

from __future__ import annotations

from typing import Any

import torch

from harness.models.base import FamilyAdapter, LoadedVLM, ModelLoadError, ModelSource
from harness.registry import FAMILIES, did_you_mean


def get_adapter(family: str) -> FamilyAdapter:
    """The registered adapter instance of ``family`` (unknown → one-line error)."""
    return FAMILIES.build(family, field="family")


def load_model(spec: Any, *, attn_implementation: str = "sdpa", device: torch.device | str | None = None) -> LoadedVLM:
    """Load a model from recipe data (``{family, scale|path|zoo, init, dtype, trust_remote_code, seed}``)
    onto ``device`` (None: the CPU)."""
    source = ModelSource.from_spec(spec)
    adapter = get_adapter(source.family)
    folder = None
    if source.zoo is not None:
        from harness.models.zoo import ensure_zoo_model

        sizes = adapter.zoo_sizes()
        if source.zoo not in sizes:
            raise ModelLoadError(
                f"{adapter.name}: the tiny zoo has no size '{source.zoo}'{did_you_mean(source.zoo, sizes)} "
                f"(known: {', '.join(sizes)})"
            )
        if source.init != "random":  # a random-init zoo shape needs no built folder
            folder = str(ensure_zoo_model(adapter.name, source.zoo))
    return adapter.load(source, attn_implementation=attn_implementation, device=device, folder=folder)
