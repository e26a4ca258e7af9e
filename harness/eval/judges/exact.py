"""Exact rubric checks for synthetic items, read from the item's scene graph.

A synthetic item carries the facts its reference answer was written from
(``raw["facts"]``, ``raw["scene"]``, ``raw["template"]``), so every rubric
criterion can be checked against the truth instead of against wording: the
option chosen, the object's class and colour, its position, the time of day,
the ego actions, the priority order of what to notice.

Each check returns a fraction in [0, 1], or None when the prediction says nothing
the criterion could judge (an answer of just "B" states no location). The rubric
judge turns None into the credit the core criterion earned: an uncontradicted
detail is worth as much as the answer it supports, and nothing for a wrong one.
"""

from __future__ import annotations

import re
from typing import Callable

from harness.data.synthetic.questions import BEND_WORDS, DASH_WORDS, SPEED_TEXT, STEER_TEXT
from harness.data.synthetic.scene import CLASSES
from harness.data.types import EvalItem
from harness.eval.judges import text as T
from harness.eval.scoring import parse_strict, parse_yes_no

Check = dict[str, "float | None"]

CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "car": ("car", "sedan", "suv"),
    "truck": ("truck", "lorry"),
    "pedestrian": ("pedestrian", "person", "man", "woman", "people", "walker"),
    "sign": ("traffic sign", "sign", "road sign"),
    "barrier": ("barrier", "road barrier"),
    "traffic_light": ("traffic light", "signal light"),
}


def is_exact_item(item: EvalItem) -> bool:
    """Whether an item has the synthetic facts the exact checks read."""
    raw = item.raw or {}
    return isinstance(raw.get("facts"), dict) and raw.get("template") in CHECKS


def classes_named(text: str) -> set[str]:
    return {cls for cls in CLASSES if any(T.has_phrase(text, w) for w in CLASS_WORDS[cls])}


def class_check(prediction: str, cls: str) -> float | None:
    named = classes_named(prediction)
    if not named:
        return None
    return 1.0 if cls in named else 0.0


def position_check(prediction: str, position: str) -> float | None:
    named = T.positions(prediction)
    if not named:
        return None
    return 1.0 if position in named else 0.0


def time_check(prediction: str, time_of_day: str) -> float | None:
    named = T.times_of_day(prediction)
    if not named:
        return None
    return 1.0 if named == {time_of_day} else 0.0


def description_check(prediction: str, description: str, cls: str) -> float | None:
    """1 for the object's full description, or its class with no other class named; 0 for a wrong class."""
    if T.has_phrase(prediction, description):
        return 1.0
    named = classes_named(prediction)
    if not named:
        return None
    return 1.0 if named == {cls} else 0.0


def sentence_check(prediction: str, truth: str, choices: dict[str, str]) -> float | None:
    """Which of a closed set of sentences the prediction uses: 1 for the true one only."""
    used = {key for key, sentence in choices.items() if T.has_phrase(prediction, sentence)}
    if not used:
        return None
    return 1.0 if used == {truth} else 0.0


def moving_status(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    letter = parse_strict(prediction, item.options)
    return {
        "correctness": 1.0 if letter == facts["answer_letter"] else 0.0,
        "object_recognition": class_check(prediction, facts["class"]),
        "location": position_check(prediction, facts["position"]),
        "environment": time_check(prediction, scene.get("time", "")),
    }


def ego_behavior(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    letter = parse_strict(prediction, item.options)
    steer = sentence_check(prediction, facts["steering"], STEER_TEXT)
    speed = sentence_check(prediction, facts["speed"], SPEED_TEXT)
    known = [v for v in (steer, speed) if v is not None]
    bend = sentence_check(prediction, facts["steering"], {k: f"road {v}" for k, v in BEND_WORDS.items()})
    dash = sentence_check(prediction, facts["speed"], DASH_WORDS)
    cues = [v for v in (bend, dash) if v is not None]
    return {
        "correctness": 1.0 if letter == facts["answer_letter"] else 0.0,
        "behavior_detail": sum(known) / len(known) if known else None,
        "reasoning": sum(cues) / len(cues) if cues else None,
        "context": time_check(prediction, scene.get("time", "")),
    }


def sign_or_barrier(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    return {
        "correctness": 1.0 if parse_yes_no(prediction) == facts["answer"] else 0.0,
        "behavior_detail": class_check(prediction, facts["class"]),
        "reasoning": description_check(prediction, facts["description"], facts["class"]),
        "context": position_check(prediction, facts["position"]),
    }


def _action_check(prediction: str, truth_text: str) -> float:
    return T.set_f1(T.actions(prediction), T.actions(truth_text))


def plan_action(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    said = T.probabilities(prediction)
    return {
        "action": _action_check(prediction, facts["action"]),
        "reasoning": T.recall(prediction, facts["reason"]),
        "probability": None if not said else (1.0 if said == {facts["probability"]} else 0.0),
        "context_safety": description_check(prediction, facts["description"], facts["class"]),
    }


def plan_collision(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    return {
        "action": _action_check(prediction, facts["action"]),
        "reasoning": None,
        "probability": None,
        "context_safety": description_check(prediction, facts["description"], facts["class"]),
    }


def plan_safe(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    hazard = facts.get("hazard")
    return {
        "action": T.set_f1(T.actions(prediction), T.actions(", ".join(facts["actions"]))),
        "reasoning": None,
        "probability": None,
        "context_safety": description_check(prediction, hazard["description"], hazard["class"]) if hazard else None,
    }


_ORDINAL = re.compile(r"\b(?:firstly|secondly|thirdly|first|second|third|then|finally)\b")


def _in_order(prediction: str, descriptions: list[str]) -> int:
    """How many of ``descriptions`` appear in the prediction one after another, in order."""
    hay, at, matched = T.norm(prediction), 0, 0
    for description in descriptions:
        found = hay.find(T.norm(description), at)
        if found < 0:
            continue
        matched += 1
        at = found + 1
    return matched


def _multiset_share(prediction: str, phrases: list[str]) -> float:
    needed: dict[str, int] = {}
    for p in phrases:
        needed[p] = needed.get(p, 0) + 1
    got = sum(min(n, T.count_phrase(prediction, p)) for p, n in needed.items())
    return got / len(phrases)


def notice_order(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    order = facts["order"]
    n = len(order)
    parts = _ORDINAL.split(T.norm(prediction))
    segments = parts[1:] if len(parts) > 1 else parts  # the text before "Firstly" belongs to no object
    paired = 0
    for i, entry in enumerate(order):
        segment = segments[i] if i < len(segments) else ""
        if T.has_phrase(segment, entry["state"]) and T.has_phrase(segment, entry["action"]):
            paired += 1
    return {
        "identity_order": _in_order(prediction, [e["description"] for e in order]) / n,
        "description": _multiset_share(prediction, [e["description"] for e in order]),
        "state": _multiset_share(prediction, [e["state"] for e in order]),
        "action": _multiset_share(prediction, [e["action"] for e in order]),
        "logic": paired / n,
    }


def important_objects(item: EvalItem, prediction: str, facts: dict, scene: dict) -> Check:
    objects = facts["objects"]
    n = len(objects)
    hay = T.norm(prediction)
    located = 0
    for o in objects:
        pattern = re.escape(T.norm(o["description"]).strip()) + r"(?: \w+){0,4}? " + re.escape(o["position"]) + r"\b(?! (?:left|right)\b)"
        located += bool(re.search(pattern, hay))
    referenced = sum(1 for o in objects if re.search(rf"\b{o['object']}\b", prediction.lower()))
    return {
        "objects": _multiset_share(prediction, [o["description"] for o in objects]),
        "location": located / n,
        "completeness": referenced / n,
    }


CHECKS: dict[str, Callable[[EvalItem, str, dict, dict], Check]] = {
    "moving_status": moving_status,
    "ego_behavior": ego_behavior,
    "sign_or_barrier": sign_or_barrier,
    "plan_action": plan_action,
    "plan_collision": plan_collision,
    "plan_safe": plan_safe,
    "notice_order": notice_order,
    "important_objects": important_objects,
}


def exact_checks(item: EvalItem, prediction: str) -> Check:
    """Fractions per content criterion for a synthetic item (clarity/conciseness are added by the judge)."""
    raw = item.raw
    return CHECKS[raw["template"]](item, prediction, raw["facts"], raw.get("scene") or {})
