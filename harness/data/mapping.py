"""How a DriveBench item maps to a capability, a question kind and a template.

DriveBench labels items by task (``question_type``) and answer form (``tag``);
Drive-KD reports three capabilities. The mapping (facts §4, design "Capabilities"):

=============  ===========  =====================================================
question_type  capability   tags
=============  ===========  =====================================================
perception     perception   0 moving-status MCQ, 2 important objects (open)
prediction     reasoning    0 "traffic sign or road barrier?" yes/no, 3 notice order
behavior       reasoning    0 ego-behaviour MCQ
planning       planning     1 open (action / collision / safe actions)
=============  ===========  =====================================================

Corruption files call every item ``robust_qas``; the task is recovered from the
question's template (the same sentences as the clean set, plus tags 4 "describe the
environment" and 5 "which camera", and a tag-0 "type of corruption" MCQ, all of
which test what the model sees and so count as perception).
"""

from __future__ import annotations

import re

from harness.data.errors import ItemProblem

QUESTION_TYPES: tuple[str, ...] = ("perception", "prediction", "planning", "behavior")
ROBUST = "robust_qas"
KINDS: tuple[str, ...] = ("mcq", "yes_no", "open")

CAPABILITY_OF: dict[str, str] = {
    "perception": "perception",
    "prediction": "reasoning",
    "behavior": "reasoning",
    "planning": "planning",
}

# The tags each clean question type may carry.
TAGS_OF: dict[str, frozenset[int]] = {
    "perception": frozenset({0, 2}),
    "prediction": frozenset({0, 3}),
    "behavior": frozenset({0}),
    "planning": frozenset({1}),
}
ROBUST_TAGS = frozenset(range(6))

# Question templates, recognised by a phrase every variant of the official text
# contains (corruption files append "considering the X corruption" and the like).
_TEMPLATES: tuple[tuple[str, re.Pattern], ...] = (
    ("moving_status", re.compile(r"moving status of (the )?object", re.I)),
    ("object_colour", re.compile(r"what colou?r is (the )?object", re.I)),  # the synthetic referential MCQ
    ("sign_or_barrier", re.compile(r"traffic sign or a road barrier", re.I)),
    ("ego_behavior", re.compile(r"predict the behaviou?r of the ego vehicle", re.I)),
    ("corruption_type", re.compile(r"type of corruption", re.I)),
    ("plan_action", re.compile(r"what actions could the ego vehicle take", re.I)),
    ("plan_collision", re.compile(r"lead to a collision", re.I)),
    ("plan_safe", re.compile(r"safe actions", re.I)),
    ("important_objects", re.compile(r"important objects", re.I)),
    ("notice_order", re.compile(r"notice first", re.I)),
    ("scene_description", re.compile(r"describe the current environment", re.I)),
    ("corrupted_camera", re.compile(r"which camera", re.I)),
)

TEMPLATES: tuple[str, ...] = tuple(name for name, _ in _TEMPLATES) + ("other",)

# The task a robust_qas template belongs to (tag-0 templates) and the task of each
# non-zero robust tag.
_ROBUST_TAG0_TASK = {
    "moving_status": "perception",
    "object_colour": "perception",
    "sign_or_barrier": "prediction",
    "ego_behavior": "behavior",
    "corruption_type": "perception",
}
_ROBUST_TAG_TASK = {1: "planning", 2: "perception", 3: "prediction", 4: "perception", 5: "perception"}


def template_of(question: str) -> str:
    """The DriveBench template a question is an instance of (``other`` when none matches)."""
    for name, pattern in _TEMPLATES:
        if pattern.search(question):
            return name
    return "other"


def resolve_question_type(question_type: str, tag: int, question: str) -> str:
    """The DriveBench task of an item; ``robust_qas`` is resolved from tag and template."""
    if question_type != ROBUST:
        if tag not in TAGS_OF[question_type]:
            allowed = ", ".join(str(t) for t in sorted(TAGS_OF[question_type]))
            raise ItemProblem("tag", f"question_type '{question_type}' takes tag {allowed}, got {tag}")
        return question_type
    if tag == 0:
        task = _ROBUST_TAG0_TASK.get(template_of(question))
        if task is None:
            raise ItemProblem(
                "question", "cannot tell which task this robust_qas tag-0 question belongs to "
                "(expected a moving-status, sign-or-barrier, ego-behaviour or corruption-type question)"
            )
        return task
    return _ROBUST_TAG_TASK[tag]


def kind_of(question_type: str, tag: int) -> str:
    """mcq, yes_no or open: tag 0 is closed (prediction's tag 0 is yes/no), the rest open."""
    if tag != 0:
        return "open"
    return "yes_no" if question_type == "prediction" else "mcq"


def capability_of(question_type: str) -> str:
    """Drive-KD's capability of a (resolved) DriveBench task."""
    return CAPABILITY_OF[question_type]
