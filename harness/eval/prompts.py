"""The instructions a model under evaluation reads before each DriveBench question.

DriveBench's inference gives every model a short driving-assistant brief (what
the cameras are, how object references are written, how to answer). This is our
own wording of the same content. It is put at the start of the user turn rather
than in a system turn, so every family's chat template treats it alike and the
image placeholders still come first (as in training).

``system_prompt`` options: ``"none"`` (the default: the bare question, as in Drive-KD's
training conversations, so a trained student is asked the way it was taught),
``"drivebench"`` (the brief below), or a path to a text file holding your own brief.
"""

from __future__ import annotations

from pathlib import Path

from harness.data.types import EvalItem
from harness.errors import HarnessError

CAMERA_WORDS = {
    "CAM_FRONT": "front", "CAM_FRONT_LEFT": "front left", "CAM_FRONT_RIGHT": "front right",
    "CAM_BACK": "back", "CAM_BACK_LEFT": "back left", "CAM_BACK_RIGHT": "back right",
}

DRIVEBENCH_BRIEF = (
    "You are the perception and planning assistant of a self-driving car (the ego vehicle). "
    "You are shown up to six camera images taken at the same moment around the car: front, front left, "
    "front right, back, back left and back right; the images given here come from: {cameras}. "
    "An object may be referred to as <id,CAMERA,x,y>, where x and y are the object's centre in that "
    "camera's image as fractions of its width and height (0,0 is the top-left corner). "
    "For a multiple-choice question, first give the letter of the option you choose, then one or two "
    "sentences explaining why. For a yes/no question, start with Yes or No, then explain briefly. "
    "Otherwise answer in a few clear sentences about what matters for driving safely."
)

BUILT_IN = {"drivebench": DRIVEBENCH_BRIEF, "none": ""}


class PromptError(HarnessError):
    """A system prompt that cannot be used (unknown name, unreadable file)."""


def resolve_system_prompt(spec: str | None) -> str:
    """The brief text for a built-in name or a file path ("" for none)."""
    if spec is None:
        return ""
    if spec in BUILT_IN:
        return BUILT_IN[spec]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise PromptError(
            f"system prompt '{spec}' is neither a built-in ({', '.join(BUILT_IN)}) nor a readable file"
        )
    return path.read_text(encoding="utf-8").strip()


def camera_list(item: EvalItem) -> str:
    return ", ".join(CAMERA_WORDS.get(c, c) for c in item.cameras) or "no camera"


def build_prompt(item: EvalItem, brief: str) -> str:
    """The user text for one item: the brief (with this item's cameras) and the question."""
    if not brief:
        return item.question
    return brief.replace("{cameras}", camera_list(item)) + "\n\n" + item.question
