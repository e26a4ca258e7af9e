"""DriveBench evaluation: generation, answer parsers, judges, aggregation, efficiency.

Importing this package registers the judges (``rubric``, ``http``). The entry
points are :func:`harness.eval.api.evaluate_run` (after training, inside
``harness run``) and :func:`harness.eval.api.evaluate` (``harness eval``).
"""

from harness.eval import judges  # noqa: F401  (registers JUDGES)
