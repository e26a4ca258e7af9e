"""Judges: turn (item, prediction) into a 0-100 score with its criteria and the judge's id.

Importing this package registers ``rubric`` (offline, deterministic) and ``http``
(an OpenAI-compatible LLM endpoint) in ``JUDGES``.
"""

from harness.eval.judges import http, rubric  # noqa: F401  (register JUDGES)
from harness.eval.judges.base import Judge, JudgeError, JudgeScore

__all__ = ["Judge", "JudgeError", "JudgeScore"]
