"""Every registered combiner against its vector reference and the shared property asserts.

The suite iterates ``COMBINERS``, so a newly registered combiner (a plugin's
included) is checked as soon as it registers: it fails until it has a contract in
tests/combine/contracts.py and either a vector form in harness/combine/reference.py
or a reason in ``WITHOUT_VECTOR_FORM``. A property a contract does not promise is
reported as a skip that names the combiner, never silently left out.
"""

from __future__ import annotations

from typing import Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.combine import build_combiner
from harness.combine.base import Combiner
from harness.combine.reference import VECTOR_FORMS, WITHOUT_VECTOR_FORM, vector_form
from harness.registry import COMBINERS
from tests.combine import asserts
from tests.combine.contracts import CONTRACTS, Contract
from tests.combine.strategies import MAX_K, PROPERTY_SETTINGS, SETTINGS, gradient_sets

REGISTERED = COMBINERS.names()


def maker(name: str, options: dict):
    return lambda: build_combiner(name, **options)


def contract(name: str) -> Contract:
    if name not in CONTRACTS:
        pytest.fail(f"combiner '{name}' is registered but has no contract in tests/combine/contracts.py")
    return CONTRACTS[name]


def combiners_where(why_not: Callable[[str, Contract], str | None]) -> list:
    """Every registered name as a parameter; skipped, with the reason, where the property is not promised."""
    params = []
    for name in REGISTERED:
        reason = why_not(name, CONTRACTS[name]) if name in CONTRACTS else None  # no contract: the test fails
        params.append(pytest.param(name, marks=pytest.mark.skip(reason=f"{name}: {reason}")) if reason else name)
    return params


@pytest.mark.parametrize("name", REGISTERED)
def test_every_combiner_has_a_contract_and_a_vector_form_or_says_why_not(name):
    contract(name)
    has_form, has_reason = name in VECTOR_FORMS, name in WITHOUT_VECTOR_FORM
    assert has_form != has_reason, (
        f"combiner '{name}': give it a vector form in harness/combine/reference.py (VECTOR_FORMS) "
        f"or say why not in WITHOUT_VECTOR_FORM, not both or neither"
    )


def test_no_contract_or_vector_form_names_an_unregistered_combiner():
    assert set(CONTRACTS) <= set(REGISTERED)
    assert set(VECTOR_FORMS) | set(WITHOUT_VECTOR_FORM) <= set(REGISTERED)


def test_the_combiners_without_a_vector_form_are_exactly_these():
    """The list is short on purpose: a combiner without an independent vector form is a gap."""
    assert sorted(WITHOUT_VECTOR_FORM) == []


@pytest.mark.parametrize("name", combiners_where(lambda name, c: WITHOUT_VECTOR_FORM.get(name)))
@SETTINGS
@given(case=gradient_sets(), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_gramian_form_equals_the_vector_form(name, case, seed, data):
    g, names, what = case
    options = data.draw(contract(name).options(names), label="options")
    make = maker(name, options)
    stateful = type(make()).state_dict is not Combiner.state_dict  # memory across steps: compare several
    asserts.assert_matches_vector_form(make, lambda: vector_form(name, **options), g, names, seed,
                                       f"{name} {options} {what}", steps=3 if stateful else 1)


@pytest.mark.parametrize("name", REGISTERED)
@PROPERTY_SETTINGS
@given(case=gradient_sets(), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_expected_structure_determinism_and_its_own_generator(name, case, seed, data):
    g, names, what = case
    options = data.draw(contract(name).options(names), label="options")
    make, what = maker(name, options), f"{name} {options} {what}"
    asserts.assert_expected_structure(make, g, names, seed, what)
    asserts.assert_deterministic(make, g, names, seed, what)
    asserts.assert_draws_only_from_its_generator(make, g, names, seed, what)


@pytest.mark.parametrize("name", REGISTERED)
@PROPERTY_SETTINGS
@given(case=gradient_sets(kinds=["zeros"]), seed=st.integers(0, 100), data=st.data())
def test_zero_gradients_are_safe(name, case, seed, data):
    g, names, what = case
    g[0] = 0.0  # at least one zero gradient (the default AGP anchor among them)
    options = data.draw(contract(name).options(names), label="options")
    asserts.assert_zero_gradients_are_safe(maker(name, options), g, names, seed, f"{name} {options} {what}")


@pytest.mark.parametrize("name", REGISTERED)
@PROPERTY_SETTINGS
@given(case=gradient_sets(kinds=["random", "rank_deficient", "collinear"]),
       factor=st.sampled_from([1e-8, 1e-3, 1e5, 1e8]), data=st.data())
def test_weights_ignore_a_global_scale(name, case, factor, data):
    g, names, what = case
    options = data.draw(contract(name).options(names), label="options")
    asserts.assert_weights_ignore_a_global_scale(maker(name, options), g, names, 1, factor, f"{name} {options} {what}")


@pytest.mark.parametrize("name", REGISTERED)
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 1000), data=st.data())
def test_permutation_invariance(name, seed, data):
    g, names, what = data.draw(gradient_sets(max_k=int(min(MAX_K, contract(name).permutation_invariant_up_to))))
    options = data.draw(contract(name).options(names), label="options")
    perm = data.draw(st.permutations(range(len(names))), label="perm")
    asserts.assert_permutation_invariant(maker(name, options), g, names, seed, list(perm), f"{name} {options} {what}")


def positive_scalings(k: int) -> st.SearchStrategy[torch.Tensor]:
    return st.lists(st.floats(0.1, 10.0), min_size=k, max_size=k).map(lambda c: torch.tensor(c, dtype=torch.float64))


@pytest.mark.parametrize("name", combiners_where(
    lambda name, c: None if c.linear_under_scaling else "not linear under scaling for any options (contracts.py)"))
@PROPERTY_SETTINGS
@given(case=gradient_sets(), seed=st.integers(0, 1000), alpha=st.floats(0.1, 3.0), beta=st.floats(0.1, 3.0),
       data=st.data())
def test_linearity_under_scaling(name, case, seed, alpha, beta, data):
    g, names, what = case
    options = data.draw(contract(name).options(names).filter(contract(name).linear_under_scaling), label="options")
    k = len(names)
    c1, c2 = data.draw(positive_scalings(k), label="c1"), data.draw(positive_scalings(k), label="c2")
    asserts.assert_linear_under_scaling(maker(name, options), g, names, seed, c1, c2, alpha, beta,
                                        f"{name} {options} {what}")


@pytest.mark.parametrize("name", combiners_where(
    lambda name, c: None if c.non_conflicting_up_to else "does not promise a non-conflicting update (contracts.py)"))
@PROPERTY_SETTINGS
@given(seed=st.integers(0, 1000), data=st.data())
def test_the_update_opposes_no_objective(name, seed, data):
    g, names, what = data.draw(gradient_sets(max_k=int(min(MAX_K, contract(name).non_conflicting_up_to))))
    options = data.draw(contract(name).options(names), label="options")
    asserts.assert_non_conflicting(maker(name, options), g, names, seed, f"{name} {options} {what}")


@pytest.mark.parametrize("name", combiners_where(
    lambda name, c: None if c.without_projection else "not a projection method (contracts.py)"))
@PROPERTY_SETTINGS
@given(case=gradient_sets(kinds=["no_conflict"]), seed=st.integers(0, 1000), data=st.data())
def test_non_conflicting_gradients_are_not_projected(name, case, seed, data):
    g, names, what = case
    options = data.draw(contract(name).options(names), label="options")
    other, other_options = contract(name).without_projection(options, names)
    asserts.assert_no_conflict_means_no_projection(maker(name, options), maker(other, other_options), g, names, seed,
                                                   f"{name} {options} {what}")


@pytest.mark.parametrize("name", REGISTERED)
def test_a_non_finite_gramian_gives_plain_weights(name):
    """An fp16 overflow's Inf reaches .grad through the plain sum (the loss scaler then skips the step)."""
    gram = torch.tensor([[float("inf"), 1.0], [1.0, 2.0]], dtype=torch.float64)
    assert torch.equal(build_combiner(name)(gram, ["ce", "a"], asserts.seeded(0)), torch.ones(2, dtype=torch.float64))
