"""Gradient combiners: turn the objectives' gradients into one update.

Each combiner (``sum``, ``pcgrad``, ``agp``, ``mgda``, ``gradvac``) is pure math on
the K×K Gramian of the objectives' gradients and returns K weights; the update is
``sum_k w_k g_k``. :mod:`harness.combine.gradients` computes the per-objective
gradients of a model, reduces them across ranks and writes the combined gradient
into ``.grad``. See docs/combiners.md for the math.
"""

from harness.combine import agp, gradvac, mgda, pcgrad, sum  # noqa: F401  (register the combiners)
from harness.combine.api import aggregate, build_combiner, gramian
from harness.combine.base import Combiner, CombinerError
from harness.combine.diagnostics import diagnostics

__all__ = ["aggregate", "build_combiner", "gramian", "Combiner", "CombinerError", "diagnostics"]
