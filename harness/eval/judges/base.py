"""What every judge returns, and the one method every judge has.

A judge turns (item, prediction) into a :class:`JudgeScore`: a total on 0-100,
the points per criterion, and the judge's identity, which travels with every
score into scores.parquet so numbers from different judges are never mixed up.
A verdict that could not be had has ``total = None`` (stored as NaN, counted as
missing), never 0: a missing verdict says nothing about the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from harness.data.types import EvalItem
from harness.errors import HarnessError


class JudgeError(HarnessError):
    """A judge that cannot work as configured (bad URL, unreadable template …)."""


@dataclass(frozen=True)
class JudgeScore:
    total: float | None  # 0-100; None = missing verdict
    criteria: dict[str, float] = field(default_factory=dict)
    judge_id: str = ""
    error: str | None = None  # why the verdict is missing

    @property
    def missing(self) -> bool:
        return self.total is None


class Judge:
    """Base class: subclasses implement :meth:`score`; :meth:`score_many` may run concurrently."""

    judge_id: str = "judge"
    #: Enters every run's identity: bump it when a change alters verdicts.
    version: int = 1

    def score(self, item: EvalItem, prediction: str) -> JudgeScore:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_many(self, items: Sequence[EvalItem], predictions: Sequence[str]) -> list[JudgeScore]:
        if len(items) != len(predictions):
            raise ValueError("score_many: items and predictions differ in length")
        return [self.score(item, pred) for item, pred in zip(items, predictions)]
