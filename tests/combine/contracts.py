"""What each registered combiner promises: the properties tests/combine/test_conformance.py checks.

Every name in ``COMBINERS`` must have a :class:`Contract` here (the conformance
suite fails for one that does not, so a new combiner cannot escape it). Its
vector reference is the one in harness/combine/reference.py (``VECTOR_FORMS``);
a combiner without one is listed in ``WITHOUT_VECTOR_FORM`` there, with the reason.

A property that holds only for some options or some numbers of objectives says so
here, with the reason, instead of being left out silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from hypothesis import strategies as st

Options = dict[str, Any]
#: Stands for "any number of objectives" in the ``*_up_to`` fields.
ANY_K = math.inf


@dataclass(frozen=True)
class Contract:
    """The options to exercise and the properties one combiner promises."""

    #: Hypothesis strategy of option sets, given the objectives' names.
    options: Callable[[list[str]], st.SearchStrategy[Options]]
    #: Listing the objectives in another order leaves the update unchanged, for K up to this.
    permutation_invariant_up_to: float
    #: For which options the update is linear under positive row scalings (TorchJD's "linear under
    #: scaling"); None: for none.
    linear_under_scaling: Callable[[Options], bool] | None
    #: The update opposes no objective (``<d, g_k> >= 0``), for K up to this (0: never promised).
    non_conflicting_up_to: float = 0
    #: The (name, options) that non-conflicting gradients are combined like (every projection off),
    #: or None when the method is not a projection method.
    without_projection: Callable[[Options, list[str]], tuple[str, Options]] | None = None


def _sum_options(names: list[str]) -> st.SearchStrategy[Options]:
    weights = st.lists(st.floats(-3, 3), min_size=len(names), max_size=len(names))
    return st.one_of(st.just({}), weights.map(lambda ws: {"weights": dict(zip(names, ws))}))


def _agp_options(names: list[str]) -> st.SearchStrategy[Options]:
    return st.fixed_dictionaries({
        "anchor": st.sampled_from(names), "stage1": st.booleans(), "stage2": st.booleans(), "anchor_once": st.booleans(),
    })


def _pcgrad_unprojected(options: Options, names: list[str]) -> tuple[str, Options]:
    if options.get("reduction", "sum") == "mean":
        return "sum", {"weights": {n: 1.0 / len(names) for n in names}}
    return "sum", {}


CONTRACTS: dict[str, Contract] = {
    "sum": Contract(
        options=_sum_options,
        permutation_invariant_up_to=ANY_K,  # weights go by name
        linear_under_scaling=lambda options: True,
    ),
    "pcgrad": Contract(
        options=lambda names: st.fixed_dictionaries({"reduction": st.sampled_from(["sum", "mean"])}),
        # with 3 or more objectives each visits at least two others, and the random order matters
        permutation_invariant_up_to=2,
        # each projected t_i scales with g_i alone: the sign of a conflict and the direction
        # projected off do not change under a positive scaling
        linear_under_scaling=lambda options: True,
        # two objectives: each loses its conflict with the only other; from three on a later
        # projection can reintroduce a conflict (Yu et al. 2020, section 3)
        non_conflicting_up_to=2,
        without_projection=_pcgrad_unprojected,
    ),
    "agp": Contract(
        options=_agp_options,
        # the anchor goes by name; with up to two followers the stage-2 order cannot matter
        permutation_invariant_up_to=3,
        # stage 2 projects merged vectors (s + c'), whose directions change with the rows' scales
        linear_under_scaling=lambda options: not options.get("stage2", True),
        without_projection=lambda options, names: ("agp", {**options, "stage1": False, "stage2": False}),
    ),
    "mgda": Contract(
        options=lambda names: st.fixed_dictionaries({"scale": st.sampled_from([1.0, 0.5, 4.0])}),
        permutation_invariant_up_to=ANY_K,  # the min-norm point is unique
        linear_under_scaling=None,  # the min-norm point moves when one gradient is scaled
        non_conflicting_up_to=ANY_K,  # <d, g_k> >= |d|^2 >= 0 at the min-norm point
    ),
    "gradvac": Contract(
        options=lambda names: st.fixed_dictionaries({"beta": st.floats(0.0, 1.0)}),
        permutation_invariant_up_to=2,  # as PCGrad
        linear_under_scaling=lambda options: True,  # cosines are scale-free, each adjustment scales with t_i
        # a fresh GradVac's targets are 0, so non-conflicting pairs are left alone (later ones may not be)
        without_projection=lambda options, names: ("sum", {}),
    ),
}
