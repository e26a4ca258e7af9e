"""The LLM judge's prompts (two sets, our wording) and reading its verdict.

``harness`` (the default): one prompt that shows the rubric of the item's task with
DriveBench's criteria and points, the question, the reference answer and the answer
to grade, and asks for one line per criterion and a last line ``Total Score: N``.
Users may supply their own template file; it is a :class:`string.Template` with the
placeholders ``$rubric_title``, ``$total``, ``$criteria``, ``$question``, ``$desc``
(the referred object's visual description), ``$reference`` and ``$prediction``.

``drivebench``: for parity with DriveBench's released evaluator, its per-task rubrics
(criteria and points as in its toolkit, see criteria.DRIVEBENCH_RUBRICS), its shape
(no system message: the evaluator's role is the first line of one user message; the
object's description on the perception-MCQ and planning prompts, as there; a blank
scoring sheet to fill in) and its reading of the verdict (the *first* ``Total Score``).
The wording is ours.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from harness.data.types import EvalItem
from harness.eval.judges.base import JudgeError
from harness.eval.judges.criteria import Rubric, drivebench_rubric_for, rubric_for

SYSTEM = "You grade answers about driving scenes strictly and consistently, following the rubric you are given."

DEFAULT_TEMPLATE = """\
A driving assistant answered a question about a traffic scene seen by the cameras of a car
(the ego vehicle). Grade its answer against the reference answer with the rubric below. Give
each criterion a number of points between 0 and its maximum; do not reward length, and give
nothing for details that contradict the reference.

Rubric for a $rubric_title question ($total points in all):
$criteria

Question:
$question

Reference answer:
$reference

Answer to grade:
$prediction

Reply with one line per criterion written as "<criterion>: <points>", then a last line
"Total Score: <sum of the points>" with nothing after it.
"""

PLACEHOLDERS = ("rubric_title", "total", "criteria", "question", "desc", "reference", "prediction")
PROMPT_SETS = ("harness", "drivebench")
NO_DESCRIPTION = "(no description available)"
_TOTAL = re.compile(r"total\s*score\s*[:：=]\s*\**\s*(-?\d+(?:\.\d+)?)", re.I)


def load_template(path: str | None) -> str:
    """The default template, or a user's file checked to use only the known placeholders."""
    if path is None:
        return DEFAULT_TEMPLATE
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise JudgeError(f"judge template '{path}': cannot read it ({exc.strerror or exc})") from None
    try:
        Template(text).substitute({k: "" for k in PLACEHOLDERS})
    except KeyError as exc:
        raise JudgeError(f"judge template '{path}': unknown placeholder ${exc.args[0]} "
                         f"(known: {', '.join('$' + p for p in PLACEHOLDERS)})") from None
    except ValueError as exc:
        raise JudgeError(f"judge template '{path}': {exc} (write a literal $ as $$)") from None
    return text


def criteria_lines(rubric: Rubric) -> str:
    return "\n".join(f"- {c.key}: up to {c.points} points ({c.meaning})" for c in rubric.criteria)


def build_prompt(template: str, item: EvalItem, prediction: str, desc: str | None = None) -> str:
    rubric = rubric_for(item)
    return Template(template).substitute(
        rubric_title=rubric.title, total=rubric.total, criteria=criteria_lines(rubric),
        question=item.question, desc=desc or NO_DESCRIPTION,
        reference=item.answer or "(none given)", prediction=prediction or "(empty answer)",
    )


# -- the drivebench set -----------------------------------------------------------------

DRIVEBENCH_ROLE = "You are a grader who scores an answer by how close it comes to the correct one."
_WITH_DESC = ("perception_mcq", "planning_open")  # the official prompts that carry the object's description
_ZERO_WITHOUT_EXPLANATION = ("perception_mcq", "behavior_mcq", "prediction_yes_no")


def drivebench_prompt(item: EvalItem, prediction: str, desc: str | None = None) -> str:
    """The DriveBench-shaped prompt for ``item``: its official rubric, in our words."""
    rubric = drivebench_rubric_for(item)
    lines = [
        DRIVEBENCH_ROLE,
        f"Score the answer below from 0 to 100 for a {rubric.title} question; more points mean it agrees "
        "more closely with the correct answer and is better justified. Be strict: give a criterion its "
        "full points only when it is met without any error, and take points off for small mistakes, "
        "omissions or unclear wording. Split the score over these criteria:",
        "",
    ]
    for n, c in enumerate(rubric.criteria, start=1):
        lines.append(f"{n}. {c.key.replace('_', ' ').title()} ({c.points} points): {c.meaning}.")
    if rubric.name in _ZERO_WITHOUT_EXPLANATION:
        lines += ["", "If the answer gives no explanation, criteria 2 onwards get 0 points."]
    if rubric.name.endswith("_mcq"):
        lines += ["", f"Criterion 1 is all or nothing: {rubric.criteria[0].points} points for the right "
                  "option, 0 otherwise, however good the explanation."]
    lines += ["", f'The question: "{item.question}"']
    if rubric.name in _WITH_DESC:
        lines += ["", f'What the referred object looks like: "{desc or NO_DESCRIPTION}"']
    lines += ["", f'The correct answer: "{item.answer or "(none given)"}"',
              "", f'The answer to score: "{prediction or "(empty answer)"}"',
              "", "Fill in this sheet, then add a short summary of why:"]
    lines += [f"{n}. {c.key.replace('_', ' ').title()} ({c.points} points):" for n, c in enumerate(rubric.criteria, 1)]
    lines += ["Total Score:", "", "Summary:"]
    return "\n".join(lines)


def parse_verdict(reply: str, rubric: Rubric, pick: str = "last") -> tuple[float, dict[str, float]] | None:
    """(total, points per criterion) from a reply, or None when it has no usable ``Total Score``.

    ``pick``: which ``Total Score`` line counts when there are several (``first`` is
    what DriveBench's evaluator reads).
    """
    found = _TOTAL.findall(reply or "")
    if not found:
        return None
    total = float(found[0] if pick == "first" else found[-1])
    if not 0.0 <= total <= rubric.total:
        return None
    criteria = {}
    for c in rubric.criteria:
        spelled = re.escape(c.key).replace("_", "[ _/-]?")
        m = re.search(rf"^[\s*\-#]*(?:\d+\.\s*)?{spelled}[\s*]*(?:\(\s*\d+\s*points?\s*\)\s*)?[:=]\s*\**\s*(\d+(?:\.\d+)?)",
                      reply, re.I | re.M)
        if m and 0.0 <= float(m.group(1)) <= c.points:
            criteria[c.key] = float(m.group(1))
    return total, criteria
