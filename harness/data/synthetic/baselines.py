"""Reference points that show the synthetic questions need the image.

- The **oracle** reads the scene graph stored in each eval item (never the answer
  text) and answers by rule: it is the ceiling a model that sees perfectly can reach.
- The **text-only prior** never sees an image: it learns, per question template,
  the answer most often right on a training set and predicts it. For multiple
  choice it learns which *option text* is most often correct and picks that option
  wherever it appears (letters are shuffled, so the text is what could leak). A
  stronger variant also conditions on where the referenced object is (the
  coordinates written in the question, binned 3×3), the only other text cue.

Accuracy compares answer *keys*: the option letter for MCQs, yes/no, and for open
questions the fact an answer hinges on (the action, the ordered objects …).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from harness.data.objects import parse_object_refs
from harness.data.options import answer_letter, parse_options, yes_no
from harness.data.synthetic import rules
from harness.data.synthetic.questions import COLOUR_OPTION, SPEED_TEXT, STATUS_OPTION, STEER_TEXT, join
from harness.data.synthetic.scene import STATIC_ROAD, Scene

MCQ = ("moving_status", "ego_behavior", "object_colour")
CLOSED = ("moving_status", "sign_or_barrier", "ego_behavior", "object_colour")
_ACTION = re.compile(r"The action is to (.+?)\. The reason", re.S)
_NOTICED = re.compile(r"notice that (.+?) at ")


def answer_key(template: str, answer: str) -> str:
    """The part of a reference (or predicted) answer that decides whether it is right."""
    if template in MCQ:
        return answer_letter(answer) or ""
    if template == "sign_or_barrier":
        return yes_no(answer) or ""
    if template == "plan_action":
        m = _ACTION.search(answer)
        return m.group(1).lower() if m else answer.strip().lower()
    if template == "important_objects":
        return ",".join(sorted(r.id for r in parse_object_refs(answer, field="answer")))
    if template == "notice_order":
        return " > ".join(_NOTICED.findall(answer))
    return answer.strip().lower()


def _letter_of(options: dict[str, str], text: str) -> str:
    return next((letter for letter, t in options.items() if t == text), "")


def oracle_key(item: dict) -> str:
    """The answer key read off the item's scene graph by rule (not from its answer text)."""
    scene = Scene.from_json(item["scene"])
    question, template = item["question"], item["template"]
    refs = parse_object_refs(question)
    obj = scene.object(refs[0].id) if refs else None
    if template == "moving_status":
        return _letter_of(parse_options(question), STATUS_OPTION[obj.status])
    if template == "ego_behavior":
        return _letter_of(parse_options(question), f"{STEER_TEXT[scene.steering]} {SPEED_TEXT[scene.speed]}")
    if template == "object_colour":
        return _letter_of(parse_options(question), COLOUR_OPTION[obj.color])
    if template == "sign_or_barrier":
        return "yes" if obj.cls in STATIC_ROAD else "no"
    if template == "plan_action":
        return rules.advice(scene, obj).action
    if template == "plan_collision":
        return rules.collision_action(obj).lower()
    if template == "plan_safe":
        text = join(rules.safe_actions(scene))
        return (text[0].upper() + text[1:] + ".").lower()
    if template == "important_objects":
        return ",".join(sorted(o.id for o in scene.objects))
    if template == "notice_order":
        return " > ".join(o.description for o in rules.priority(scene)[:3])
    raise ValueError(f"no oracle for template {template!r}")


def _cell(question: str) -> str:
    refs = parse_object_refs(question)
    if not refs:
        return "-"
    r = refs[0]
    return f"{r.camera}:{min(2, int(r.x * 3))}{min(2, int(r.y * 3))}"


@dataclass
class TextPrior:
    """Majority answer per template (optionally per template and object position), from text only."""

    use_position: bool = False
    counts: dict = field(default_factory=lambda: defaultdict(Counter))

    def _context(self, template: str, question: str) -> tuple:
        return (template, _cell(question)) if self.use_position else (template,)

    def _target(self, template: str, question: str, answer: str) -> str:
        if template in MCQ:
            return parse_options(question).get(answer_letter(answer) or "", "")
        return answer_key(template, answer)

    def fit(self, records) -> "TextPrior":
        """``records``: (template, question, reference answer) triples."""
        for template, question, answer in records:
            self.counts[self._context(template, question)][self._target(template, question, answer)] += 1
        return self

    def predict(self, template: str, question: str) -> str:
        counts = self.counts.get(self._context(template, question)) or self.counts.get((template,)) or Counter()
        if template in MCQ:
            options = parse_options(question)
            ranked = sorted(options.items(), key=lambda kv: -counts.get(kv[1], 0))
            return ranked[0][0] if ranked else ""
        return counts.most_common(1)[0][0] if counts else ""


def accuracy_by_template(items: list[dict], predict) -> dict[str, float]:
    """Per-template accuracy of ``predict(item) -> key`` against the items' reference answers."""
    right, total = Counter(), Counter()
    for item in items:
        t = item["template"]
        total[t] += 1
        right[t] += predict(item) == answer_key(t, item["answer"])
    return {t: right[t] / total[t] for t in total}


def closed_accuracy(items: list[dict], predict) -> float:
    """Accuracy over the closed (MCQ and yes/no) items only."""
    closed = [it for it in items if it["template"] in CLOSED]
    return sum(predict(it) == answer_key(it["template"], it["answer"]) for it in closed) / max(1, len(closed))
