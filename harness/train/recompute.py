"""Gradient checkpointing of the student (``train.gradient_checkpointing``).

Each decoder (and vision) layer keeps only its input and recomputes its
activations in backward. Non-reentrant checkpointing is required: the captured
attention maps are built by hooks inside the layers, with their own saved tensors
kept out of the checkpoint (see :mod:`harness.signals.capture`), so they stay
exact and differentiable; the reentrant variant would run the layers without
gradients and lose them.
"""

from __future__ import annotations

from harness.errors import HarnessError


def enable_gradient_checkpointing(model) -> None:
    """Turn on non-reentrant activation checkpointing of every checkpointable layer of ``model``."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise HarnessError(f"train.gradient_checkpointing: {type(model).__name__} does not support it")
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers ≥ 5.2x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if getattr(model.config, "use_cache", None):
        model.config.use_cache = False
