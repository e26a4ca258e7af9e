"""The two sample types every data source produces and every consumer reads.

Training data (conversations with a capability label) and evaluation data
(DriveBench items) are different shapes; keeping them as small frozen
dataclasses here lets the data, model, training and evaluation packages agree
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CAPABILITIES: tuple[str, ...] = ("perception", "reasoning", "planning")
# Drive-KD's capability mixing: a sample weights its own capability's teacher 0.8, the others 0.1
# (sample capability → objective capability → factor). The one copy of this constant.
DRIVEKD_MIXING: dict[str, dict[str, float]] = {
    row: {col: (0.8 if col == row else 0.1) for col in CAPABILITIES} for row in CAPABILITIES
}
CAMERAS: tuple[str, ...] = (
    "CAM_FRONT",
    "CAM_FRONT_LEFT",
    "CAM_FRONT_RIGHT",
    "CAM_BACK",
    "CAM_BACK_LEFT",
    "CAM_BACK_RIGHT",
)


@dataclass(frozen=True)
class ObjectRef:
    """An object reference in a DriveBench question: ``<c1,CAM_BACK,0.5073,0.5778>``."""

    id: str
    camera: str
    x: float
    y: float
    text: str = ""


@dataclass(frozen=True)
class TrainSample:
    """One supervised conversation turn: images + question → answer, with its capability."""

    id: str
    images: tuple[str, ...]  # resolved image file paths, in prompt order
    question: str  # the user's text, without image placeholders
    answer: str  # the assistant's text (labels are put on these tokens only)
    capability: str  # one of CAPABILITIES
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class EvalItem:
    """One DriveBench question as the evaluator needs it."""

    id: str  # stable id: f"{frame_token}:{index in file}" unless the file gives one
    question: str
    answer: str  # reference answer ("" when unknown)
    question_type: str  # perception | prediction | planning | behavior (robust_qas resolved)
    tag: int
    capability: str  # one of CAPABILITIES
    kind: str  # mcq | yes_no | open
    cameras: dict[str, str]  # camera name → image path (after filtering and resolution)
    objects: tuple[ObjectRef, ...] = ()
    setting: str = "clean"
    scene_token: str = ""
    frame_token: str = ""
    options: dict[str, str] = field(default_factory=dict)  # MCQ letter → option text
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
