"""Search-space entries: validation, grids, and the Optuna encoding of non-scalar choices."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from harness.sweep.ablation import grid_points
from harness.sweep.space import Distribution, encode_choice

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                          max_leaves=6)


@given(st.lists(json_value, min_size=1, max_size=5, unique_by=lambda v: repr(encode_choice(v))))
def test_every_choice_survives_the_optuna_round_trip(choices):
    dist = Distribution.model_validate(choices)
    optuna_dist = dist.to_optuna()
    for choice in choices:
        stored = encode_choice(choice)
        assert stored in optuna_dist.choices
        assert dist.decode(stored) == choice


def test_a_plain_list_is_a_categorical_grid():
    dist = Distribution.model_validate(["sum", "pcgrad", {"name": "agp", "stage2": False}])
    assert dist.type == "categorical"
    assert dist.grid_values() == ["sum", "pcgrad", '{"name":"agp","stage2":false}']


@pytest.mark.parametrize("raw, phrase", [
    ({"type": "float", "low": 1.0}, "needs 'low' and 'high'"),
    ({"type": "float", "low": 2.0, "high": 1.0}, "must be below"),
    ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "log range needs 'low' > 0"),
    ({"type": "int", "low": 0.5, "high": 3}, "whole-number"),
    ({"type": "categorical", "choices": []}, "non-empty"),
    ({"type": "categorical", "choices": [1, 1]}, "repeat"),
    ({"type": "float", "low": 0, "high": 1, "choices": [1]}, "belongs to categorical"),
])
def test_bad_entries_say_what_is_wrong(raw, phrase):
    with pytest.raises(ValidationError, match=phrase):
        Distribution.model_validate(raw)


def test_grid_is_the_cartesian_product_first_key_slowest():
    space = {"a": Distribution.model_validate([1, 2]), "b": Distribution.model_validate({"type": "int", "low": 0, "high": 4, "step": 2})}
    assert grid_points(space) == [{"a": 1, "b": 0}, {"a": 1, "b": 2}, {"a": 1, "b": 4},
                                  {"a": 2, "b": 0}, {"a": 2, "b": 2}, {"a": 2, "b": 4}]


def test_float_ranges_are_not_enumerable():
    dist = Distribution.model_validate({"type": "float", "low": 1e-4, "high": 1e-2, "log": True})
    assert not dist.enumerable
    with pytest.raises(ValueError):
        dist.grid_values()
