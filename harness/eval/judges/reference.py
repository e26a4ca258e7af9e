"""Rubric checks for real DriveBench items, against the reference answer's text.

Real items have no scene graph, only a reference answer, so the rubric judge
scores them as *correctness plus overlap*: the closed answer (option letter or
yes/no) must match the reference's; ego actions, positions and likelihood words
are compared as sets when the reference states them; every other criterion is
the content-word F1 between the prediction and the reference. This is a
different metric from an LLM judge (it rewards the reference's wording and
cannot credit a correct paraphrase), so its numbers are not comparable with the
paper's; the judge id ``rubric-v1`` says which one produced a score.
"""

from __future__ import annotations

import re

from harness.data.options import answer_letter, yes_no
from harness.data.types import EvalItem
from harness.eval.judges import text as T
from harness.eval.judges.criteria import Rubric
from harness.eval.scoring import parse_strict, parse_yes_no

_LEADING_LETTER = re.compile(r"^\s*\(?[A-F]\)?\s*[.,:;)]?\s*(?:explanation\s*:)?", re.I)
_LEADING_YES_NO = re.compile(r"^\s*(?:yes|no)\b\s*[.,:;]?\s*(?:explanation\s*:)?", re.I)
_REF_ID = re.compile(r"<(c\d+),")


def _explanation(text: str, kind: str) -> str:
    pattern = _LEADING_LETTER if kind == "mcq" else _LEADING_YES_NO
    return pattern.sub("", text or "", count=1)


def _set_check(predicted: set, truth: set) -> float | None:
    return T.set_f1(predicted, truth) if truth else None


def reference_checks(item: EvalItem, prediction: str, rubric: Rubric) -> dict[str, float | None]:
    """Fractions per content criterion of ``rubric`` (clarity/conciseness are added by the judge)."""
    reference = item.answer
    content = [c.key for c in rubric.criteria if c.key not in ("clarity", "conciseness")]
    out: dict[str, float | None] = {}
    if item.kind in ("mcq", "yes_no"):
        if item.kind == "mcq":
            right = parse_strict(prediction, item.options) == answer_letter(reference)
        else:
            right = parse_yes_no(prediction) == yes_no(reference)
        out["correctness"] = 1.0 if right else 0.0
        detail = T.overlap_f1(_explanation(prediction, item.kind), _explanation(reference, item.kind))
        for key in content:
            out.setdefault(key, detail)
        return out
    f1 = T.overlap_f1(prediction, reference)
    for key in content:
        out[key] = f1
    if "action" in out and item.question_type == "planning":
        out["action"] = _set_check(T.actions(prediction), T.actions(reference)) if T.actions(reference) else f1
    if "probability" in out:
        truth = T.probabilities(reference)
        out["probability"] = _set_check(T.probabilities(prediction), truth) if truth else None
    if "location" in out:
        truth_positions = set(T.positions(reference))
        out["location"] = _set_check(set(T.positions(prediction)), truth_positions) if truth_positions else f1
    if "completeness" in out:
        ids = set(_REF_ID.findall(reference))
        out["completeness"] = (len(ids & set(_REF_ID.findall(prediction) + re.findall(r"\bc\d+\b", prediction)))
                               / len(ids)) if ids else f1
    return out
