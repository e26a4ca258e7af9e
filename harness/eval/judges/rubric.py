"""The offline rubric judge: DriveBench's criteria and points, scored by rules.

Synthetic items are scored exactly from their scene graph
(:mod:`~harness.eval.judges.exact`); real items by correctness plus overlap with
the reference answer (:mod:`~harness.eval.judges.reference`), which is a
different metric from an LLM judge and is labelled as such by its id.

Each criterion earns ``fraction × points``. The first criterion of every rubric
is its core (the chosen option, the ego action, the objects named); a criterion
the prediction says nothing about earns the core's fraction, so a bare correct
letter scores 100 and a bare wrong one 0 on the supporting criteria. Clarity and
conciseness are form checks on the prediction's text. An answer in Drive-KD's
rationale format (``Final: {…}`` then object, position, environment, evidence)
has its core judged on the ``Final`` part alone, so actions named in the evidence
do not count as proposed actions; the other criteria read the whole text.
"""

from __future__ import annotations

from harness.data.types import EvalItem
from harness.eval.judges import text as T
from harness.eval.judges.base import Judge, JudgeScore
from harness.eval.judges.criteria import rubric_for
from harness.eval.judges.exact import exact_checks, is_exact_item
from harness.eval.judges.reference import reference_checks
from harness.registry import JUDGES

RUBRIC_JUDGE_ID = "rubric-v1"


@JUDGES.register("rubric")
class RubricJudge(Judge):
    """Deterministic offline judge: DriveBench's per-task criteria, exact on synthetic items."""

    judge_id = RUBRIC_JUDGE_ID

    def __init__(self):
        pass

    def fractions(self, item: EvalItem, prediction: str) -> dict[str, float]:
        """Each criterion's fraction in [0, 1] (None resolved to the core's)."""
        rubric = rubric_for(item)
        check = exact_checks if is_exact_item(item) else (lambda it, text: reference_checks(it, text, rubric))
        checks = check(item, prediction)
        core_key = rubric.criteria[0].key
        final = T.final_answer(prediction)
        if final is not None:  # the committed answer decides the core; the rationale supports the rest
            checks[core_key] = check(item, final).get(core_key)
        core = checks.get(core_key)
        core = 0.0 if core is None else float(core)
        out = {}
        for criterion in rubric.criteria:
            if criterion.key == "clarity":
                value = T.clarity(prediction)
            elif criterion.key == "conciseness":
                value = T.conciseness(prediction, item.answer)
            else:
                value = checks.get(criterion.key)
                value = core if value is None else float(value)
            out[criterion.key] = min(max(value, 0.0), 1.0)
        return out

    def score(self, item: EvalItem, prediction: str) -> JudgeScore:
        rubric = rubric_for(item)
        fractions = self.fractions(item, prediction or "")
        criteria = {c.key: round(fractions[c.key] * c.points, 4) for c in rubric.criteria}
        return JudgeScore(total=round(sum(criteria.values()), 4), criteria=criteria, judge_id=self.judge_id)
