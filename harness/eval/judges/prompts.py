"""The LLM judge's prompt (DriveBench-style rubric, our wording) and reading its verdict.

The prompt shows the rubric of the item's task with DriveBench's criteria and
points, the question, the reference answer and the answer to grade, and asks for
one line per criterion and a last line ``Total Score: N``. Users may supply their
own template file; it is a :class:`string.Template` with the placeholders
``$rubric_title``, ``$total``, ``$criteria``, ``$question``, ``$reference`` and
``$prediction``.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from harness.data.types import EvalItem
from harness.eval.judges.base import JudgeError
from harness.eval.judges.criteria import Rubric, rubric_for

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

PLACEHOLDERS = ("rubric_title", "total", "criteria", "question", "reference", "prediction")
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


def build_prompt(template: str, item: EvalItem, prediction: str) -> str:
    rubric = rubric_for(item)
    return Template(template).substitute(
        rubric_title=rubric.title, total=rubric.total, criteria=criteria_lines(rubric),
        question=item.question, reference=item.answer or "(none given)", prediction=prediction or "(empty answer)",
    )


def parse_verdict(reply: str, rubric: Rubric) -> tuple[float, dict[str, float]] | None:
    """(total, points per criterion) from a reply, or None when it has no usable ``Total Score``."""
    found = _TOTAL.findall(reply or "")
    if not found:
        return None
    total = float(found[-1])
    if not 0.0 <= total <= rubric.total:
        return None
    criteria = {}
    for c in rubric.criteria:
        spelled = re.escape(c.key).replace("_", "[ _/-]?")
        m = re.search(rf"^[\s*\-#]*{spelled}[\s*]*[:=]\s*\**\s*(\d+(?:\.\d+)?)", reply, re.I | re.M)
        if m and 0.0 <= float(m.group(1)) <= c.points:
            criteria[c.key] = float(m.group(1))
    return total, criteria
