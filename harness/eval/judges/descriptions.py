"""The referred object's visual description, which DriveBench's judge prompts carry (``{DESC}``).

DriveBench ships ``data/visual_description.json``: scene token → ``key_frames`` →
frame token → ``key_object_infos`` → object key (``<c1,CAM_FRONT,767.5,513.3>``, pixel
coordinates) → ``Visual_description``. The official evaluator finds an item's object by
the first reference in its question, matched on its id and camera only (the
questions give normalised coordinates, the file pixels), takes the first key of the
frame that starts with that prefix (with no delimiter after the camera, so a
``<c1,CAM_BACK_LEFT,…>`` key listed first also matches ``<c1,CAM_BACK``), and
lower-cases the text. It uses a fixed phrase
for the one planning question that refers to no object. We follow that rule; where
the official code would crash (no such scene, frame or object) the description is
missing (None) and the prompt says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.data.types import EvalItem
from harness.eval.judges.base import JudgeError

NO_OBJECT_QUESTION = "In this scenario, what are safe actions to take for the ego vehicle?"
NO_OBJECT_TEXT = "this question needs no object description."
_FIRST_REF = re.compile(r"<(.*)>")  # greedy, as the official code: from the first < to the last >


class VisualDescriptions:
    """Lookup of DriveBench's object descriptions for judge prompts."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise JudgeError(f"eval.judge.descriptions '{path}': cannot read it ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise JudgeError(f"eval.judge.descriptions '{path}': not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise JudgeError(f"eval.judge.descriptions '{path}': expected DriveBench's visual_description.json "
                             "(an object keyed by scene token)")
        self.scenes = data

    def for_item(self, item: EvalItem) -> str | None:
        question = str(item.raw.get("question", item.question)) if item.raw else item.question
        if question == NO_OBJECT_QUESTION:
            return NO_OBJECT_TEXT
        match = _FIRST_REF.search(question)
        if match is None:
            return None
        prefix = "<" + ",".join(match.group(1).split(",")[:2])
        frame = ((self.scenes.get(item.scene_token) or {}).get("key_frames") or {}).get(item.frame_token) or {}
        objects = frame.get("key_object_infos") or {}
        key = next((k for k in objects if k.startswith(prefix)), None)
        if key is None:
            return None
        text = (objects[key] or {}).get("Visual_description")
        return str(text).lower() if text else None
