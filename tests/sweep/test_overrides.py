"""Variant overrides: nested or dotted, merged onto the base, with `_replace` for removal."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import RecipeError
from harness.sweep.overrides import apply_variant, expand_dotted, flatten

BASE = {
    "teachers": {"p": {"zoo": "teacher_s"}, "r": {"zoo": "teacher_s"}},
    "objectives": {"ce": {"weight": 1.0}, "perception": {"teacher": "p"}, "reasoning": {"teacher": "r"}},
    "combiner": {"name": "agp", "anchor": "ce"},
    "train": {"lr": 1e-3, "max_steps": 4},
}


def test_dotted_and_nested_keys_mean_the_same():
    assert expand_dotted({"train.lr": 1e-4, "train": {"max_steps": 2}}) == {"train": {"lr": 1e-4, "max_steps": 2}}
    assert apply_variant(BASE, {"train.lr": 1e-4}) == apply_variant(BASE, {"train": {"lr": 1e-4}})


def test_mappings_merge_so_unrelated_fields_stay():
    out = apply_variant(BASE, {"combiner": {"stage2": False}})
    assert out["combiner"] == {"name": "agp", "anchor": "ce", "stage2": False}
    assert out["teachers"] == BASE["teachers"]


def test_replace_drops_the_base_value_and_uses_the_variants():
    out = apply_variant(BASE, {"_replace": ["objectives", "teachers", "combiner"],
                               "objectives": {"ce": {"weight": 1.0}}, "combiner": {"name": "sum"}})
    assert out["objectives"] == {"ce": {"weight": 1.0}}
    assert "teachers" not in out  # absent → the recipe default (no teachers)
    assert out["combiner"] == {"name": "sum"}
    assert BASE["teachers"]  # the base itself is untouched


def test_replace_must_list_paths():
    with pytest.raises(RecipeError, match="list of dotted recipe paths"):
        apply_variant(BASE, {"_replace": [3]}, where="variants.x")


def test_a_key_given_twice_is_an_error():
    with pytest.raises(RecipeError, match="given twice"):
        expand_dotted({"train.lr": 1.0, "train": 3})


keys = st.text(alphabet="abc", min_size=1, max_size=2)
nested = st.recursive(st.integers(0, 9), lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3), max_leaves=8)


@given(st.dictionaries(keys, nested, min_size=1, max_size=3))
def test_flatten_then_expand_is_the_identity(mapping):
    assert expand_dotted(flatten(mapping)) == mapping
