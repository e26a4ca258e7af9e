"""Distillation signals: attention capture, layer matching, signal kinds and losses.

Importing this package registers the built-in signals (``text_to_vision``,
``full``, ``hidden``, ``logits``), matchings (``group``, ``uniform``, ``pairs``,
``none``) and losses (``mse``, ``cosine``, ``kl``, ``hidden``).
"""

from harness.signals import kinds, losses, matching  # noqa: F401  (register components)
from harness.signals.capture import AttentionCapture, attention_probabilities, capture_attention
from harness.signals.matching import group_matching, uniform_matching
from harness.signals.resolve import (
    SignalError,
    SignalPlan,
    check_same_layout,
    hidden_states_of,
    resolve_signal,
    signal_loss,
    teacher_targets,
)

__all__ = [
    "AttentionCapture",
    "SignalError",
    "SignalPlan",
    "attention_probabilities",
    "capture_attention",
    "check_same_layout",
    "group_matching",
    "hidden_states_of",
    "resolve_signal",
    "signal_loss",
    "teacher_targets",
    "uniform_matching",
]
