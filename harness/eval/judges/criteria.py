"""DriveBench's per-task judging rubrics: which criteria, how many points each.

The four DriveBench rubrics (facts §4) are kept with their points. DriveBench
gives no task rubric for the two kinds of items below, so the harness adds its
own, marked ``ours``: perception open questions ("important objects") and the
corruption files' extra open tags (4 scene description, 5 which camera).

Every rubric sums to 100, so a judge total is on the paper's 0-100 scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.data.types import EvalItem


@dataclass(frozen=True)
class Criterion:
    key: str
    points: int
    meaning: str


@dataclass(frozen=True)
class Rubric:
    name: str
    title: str
    criteria: tuple[Criterion, ...]
    source: str  # "DriveBench" or "ours"

    @property
    def total(self) -> int:
        return sum(c.points for c in self.criteria)

    def points(self, key: str) -> int:
        return next(c.points for c in self.criteria if c.key == key)


def _rubric(name, title, source, *criteria) -> Rubric:
    return Rubric(name, title, tuple(Criterion(*c) for c in criteria), source)


RUBRICS: dict[str, Rubric] = {r.name: r for r in (
    _rubric("perception_mcq", "perception multiple choice", "DriveBench",
            ("correctness", 50, "the chosen option is the right one"),
            ("object_recognition", 10, "the object is identified as what it is"),
            ("location", 15, "its position and orientation relative to the ego vehicle are right"),
            ("environment", 15, "what is said about the surroundings (time of day, road, weather) is right"),
            ("clarity", 10, "the answer is clear and well formed")),
    _rubric("reasoning_closed", "behaviour / prediction closed question", "DriveBench",
            ("correctness", 50, "the chosen option (or yes/no) is the right one"),
            ("behavior_detail", 15, "the behaviour or object is described with the right specifics"),
            ("reasoning", 15, "the explanation gives sound reasons"),
            ("context", 10, "the driving context is taken into account correctly"),
            ("clarity", 10, "the answer is clear and well formed")),
    _rubric("planning_open", "planning", "DriveBench",
            ("action", 40, "the proposed ego action matches the right one"),
            ("reasoning", 20, "the justification is sound"),
            ("probability", 15, "the stated likelihood is right"),
            ("context_safety", 15, "the relevant objects and safety considerations are right"),
            ("conciseness", 10, "the answer is concise")),
    _rubric("prediction_open", "prediction (what to notice first, second, third)", "DriveBench",
            ("identity_order", 20, "the right objects are named in the right priority order"),
            ("description", 20, "the objects are described correctly"),
            ("state", 15, "each object's state is right"),
            ("action", 15, "each recommended ego action is right"),
            ("logic", 20, "each action follows from its object's state"),
            ("clarity", 10, "the answer is clear and well formed")),
    _rubric("perception_open", "perception open question (important objects)", "ours",
            ("objects", 40, "the important objects are named correctly"),
            ("location", 30, "each object's position relative to the ego vehicle is right"),
            ("completeness", 20, "every object is covered and referenced"),
            ("clarity", 10, "the answer is clear and well formed")),
    _rubric("general_open", "other open question (scene description, which camera)", "ours",
            ("correctness", 60, "the answer's content matches the reference"),
            ("detail", 30, "the specifics given are right"),
            ("clarity", 10, "the answer is clear and well formed")),
)}


# The official toolkit's own rubrics where it differs from the four above (the ``drivebench``
# prompt set): it judges open perception questions with a driving-action rubric and has a
# yes/no rubric for prediction closed items (which its scorer then skips).
DRIVEBENCH_RUBRICS: dict[str, Rubric] = {r.name: r for r in (
    RUBRICS["perception_mcq"],
    _rubric("behavior_mcq", "behaviour multiple choice", "DriveBench",
            ("correctness", 50, "the chosen option is the right one"),
            ("behavior_detail", 15, "the ego vehicle's direction and speed are described as in the reference"),
            ("reasoning", 15, "the explanation justifies the choice from road, traffic and scene cues"),
            ("context", 10, "the situation around the ego vehicle is taken into account"),
            ("clarity", 10, "the explanation is clear, concise and grammatical")),
    _rubric("prediction_yes_no", "prediction yes/no", "DriveBench",
            ("correctness", 40, "the yes/no answer is the right one"),
            ("category", 15, "the object's category is identified correctly"),
            ("appearance", 15, "the object's looks (colour, size, shape) are described correctly"),
            ("position_motion", 15, "its position, orientation and motion relative to the ego vehicle are right"),
            ("explanation", 15, "the explanation justifies the answer clearly")),
    _rubric("perception_open_drivebench", "perception open question", "DriveBench",
            ("action", 20, "the predicted action (ahead, left, right, …) matches the reference"),
            ("motion", 20, "the predicted motion (speeding up, slowing down, …) matches the reference"),
            ("driving_context", 15, "the answer fits the driving situation the reference implies"),
            ("situational_awareness", 15, "the traffic participants and obstacles that matter are noticed"),
            ("conciseness", 20, "the answer is short, clear and focused"),
            ("grammar", 10, "the answer is grammatical and reads well")),
    RUBRICS["prediction_open"],
    RUBRICS["planning_open"],
)}


def drivebench_rubric_for(item: EvalItem) -> Rubric:
    """The rubric the official toolkit applies (ours, ``general_open``, for the corruption files' extra tags)."""
    if item.question_type == "perception":
        if item.kind == "mcq":
            return DRIVEBENCH_RUBRICS["perception_mcq"]
        if item.tag == 2:
            return DRIVEBENCH_RUBRICS["perception_open_drivebench"]
    if item.question_type == "behavior" and item.kind == "mcq":
        return DRIVEBENCH_RUBRICS["behavior_mcq"]
    if item.question_type == "prediction":
        return DRIVEBENCH_RUBRICS["prediction_yes_no" if item.kind == "yes_no" else "prediction_open"]
    if item.question_type == "planning" and item.tag == 1:
        return DRIVEBENCH_RUBRICS["planning_open"]
    return RUBRICS["general_open"]


def rubric_for(item: EvalItem) -> Rubric:
    """The rubric DriveBench (or the harness, where DriveBench has none) applies to an item."""
    if item.kind == "mcq" and item.question_type == "perception":
        return RUBRICS["perception_mcq"]
    if item.kind in ("mcq", "yes_no"):
        return RUBRICS["reasoning_closed"]
    if item.question_type == "planning":
        return RUBRICS["planning_open"]
    if item.question_type == "prediction":
        return RUBRICS["prediction_open"]
    if item.tag == 2:
        return RUBRICS["perception_open"]
    return RUBRICS["general_open"]
