"""Distillation signals: attention capture, recorders, layer matching, signal kinds and losses.

Importing this package registers the built-in signals (``text_to_vision``,
``full``, ``hidden``, ``logits``), recorders (``attention``, ``hidden``, ``logits``),
matchings (``group``, ``uniform``, ``pairs``, ``none``) and losses (``mse``,
``cosine``, ``kl``, ``hidden``).
"""

from harness.signals import kinds, losses, matching, recorders  # noqa: F401  (register components)
from harness.signals.capture import AttentionCapture, attention_probabilities, capture_attention
from harness.signals.matching import group_matching, uniform_matching
from harness.signals.recorder import Recorder, Tap
from harness.signals.recorders.hidden import hidden_states_of
from harness.signals.recording import Recording, requests
from harness.signals.resolve import (
    SignalError,
    SignalPlan,
    check_same_layout,
    resolve_signal,
    signal_loss,
    teacher_targets,
)

__all__ = [
    "AttentionCapture",
    "Recorder",
    "Recording",
    "SignalError",
    "SignalPlan",
    "Tap",
    "attention_probabilities",
    "capture_attention",
    "check_same_layout",
    "group_matching",
    "hidden_states_of",
    "requests",
    "resolve_signal",
    "signal_loss",
    "teacher_targets",
    "uniform_matching",
]
