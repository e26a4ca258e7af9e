"""Recipe loading: safe YAML, extends, --set, canonical hashing."""

import textwrap

import pytest

from harness.errors import RecipeError
from harness.recipe import load_recipe, recipe_from_dict
from harness.recipe.identity import config_hash
from harness.recipe.loader import apply_overrides, deep_merge, resolve_extends

BASE = {"name": "r", "student": {"family": "internvl3", "zoo": "student"}}


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_are_filled_and_hashed(tmp_path):
    recipe = recipe_from_dict(BASE, check=False)
    assert recipe.resolved["train"]["lr"] == 5e-5
    assert recipe.resolved["combiner"] == {"name": "sum"}
    assert len(recipe.hash) == 64


def test_hash_ignores_key_order_formatting_and_description(tmp_path):
    a = write(tmp_path / "a.yaml", """
        name: r
        student: {family: internvl3, zoo: student}
        train: {lr: 0.001, epochs: 2}
    """)
    b = write(tmp_path / "b.yaml", """
        # same recipe, other layout
        train:
          epochs: 2
          lr: 1.0e-3
        description: words do not change the identity of a run
        student:
          zoo: student
          family: internvl3
        name: r
    """)
    assert load_recipe(a, check=False).hash == load_recipe(b, check=False).hash


def test_hash_changes_with_any_hashed_field():
    h0 = recipe_from_dict(BASE, check=False).hash
    h1 = recipe_from_dict({**BASE, "train": {"lr": 1e-3}}, check=False).hash
    h2 = recipe_from_dict({**BASE, "combiner": {"name": "agp"}}).hash
    h3 = recipe_from_dict(BASE).hash  # resolved: component defaults and versions are in it
    assert len({h0, h1, h2, h3}) == 4


def test_explicit_default_equals_omitted_default():
    assert recipe_from_dict(BASE, check=False).hash == recipe_from_dict({**BASE, "train": {"lr": 5e-5}}, check=False).hash


def test_name_defaults_to_file_stem(tmp_path):
    path = write(tmp_path / "my_recipe.yaml", "student: {family: internvl3, zoo: student}\n")
    assert load_recipe(path, check=False).name == "my_recipe"


def test_extends_merges_recursively_and_child_wins(tmp_path):
    write(tmp_path / "base.yaml", """
        name: base
        student: {family: internvl3, zoo: student}
        train: {lr: 0.001, epochs: 3}
    """)
    (tmp_path / "sub").mkdir()
    child = write(tmp_path / "sub" / "child.yaml", """
        extends: ../base.yaml
        name: child
        train: {epochs: 1}
    """)
    recipe = load_recipe(child, check=False)
    assert recipe.name == "child"
    assert recipe.spec.train.lr == 0.001 and recipe.spec.train.epochs == 1
    assert "extends" not in recipe.resolved


def test_extends_list_applies_in_order(tmp_path):
    write(tmp_path / "a.yaml", "train: {lr: 0.1, epochs: 5}\n")
    write(tmp_path / "b.yaml", "train: {lr: 0.2}\n")
    child = write(tmp_path / "c.yaml", "extends: [a.yaml, b.yaml]\nname: c\nstudent: {family: f, zoo: s}\n")
    spec = load_recipe(child, check=False).spec
    assert (spec.train.lr, spec.train.epochs) == (0.2, 5)


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(RecipeError, match="extends cycle"):
        resolve_extends(tmp_path / "a.yaml")


def test_set_overrides_read_values_as_yaml():
    data = apply_overrides(BASE, ["train.lr=1e-4", "combiner.name=agp", "combiner.stage2=false", "seed=7"])
    assert data["train"]["lr"] == 1e-4
    assert data["combiner"] == {"name": "agp", "stage2": False}
    assert data["seed"] == 7
    assert BASE.get("train") is None  # the input is not modified


def test_set_applies_after_extends(tmp_path):
    write(tmp_path / "base.yaml", "name: b\nstudent: {family: f, zoo: s}\ntrain: {lr: 0.5}\n")
    child = write(tmp_path / "c.yaml", "extends: base.yaml\ntrain: {lr: 0.25}\n")
    assert load_recipe(child, ["train.lr=0.125"], check=False).spec.train.lr == 0.125


def test_yaml_tags_that_run_code_are_refused(tmp_path):
    path = write(tmp_path / "evil.yaml", "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RecipeError, match="tags are not allowed"):
        load_recipe(path, check=False)


def test_duplicate_keys_are_refused(tmp_path):
    path = write(tmp_path / "dup.yaml", "name: a\nseed: 1\nseed: 2\n")
    with pytest.raises(RecipeError, match="duplicate key 'seed'"):
        load_recipe(path, check=False)


def test_deep_merge_does_not_alias():
    base = {"a": {"b": [1]}}
    merged = deep_merge(base, {"a": {"c": 2}})
    merged["a"]["b"].append(2)
    assert base == {"a": {"b": [1]}}


def test_config_hash_is_sha256_hex_and_order_free():
    assert len(config_hash({"a": 1})) == 64
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})


def test_round_trip_through_resolved_yaml(tmp_path):
    recipe = recipe_from_dict({**BASE, "combiner": {"name": "agp", "stage2": False}})
    path = tmp_path / "resolved.yaml"
    path.write_text(recipe.to_yaml())
    again = load_recipe(path)
    assert again.hash == recipe.hash and again.resolved == recipe.resolved


def test_set_refines_a_component_given_by_name():
    data = apply_overrides({"combiner": "agp"}, ["combiner.stage2=false"])
    assert data["combiner"] == {"name": "agp", "stage2": False}
    data = apply_overrides({"combiner": "agp"}, ["combiner.name=pcgrad"])
    assert data["combiner"] == {"name": "pcgrad"}
