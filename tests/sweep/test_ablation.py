"""Ablation files: schema errors name the dotted field, plans are ordered, recipes are runs' own."""

from pathlib import Path

import pytest

from harness import cli
from harness.errors import RecipeError
from harness.recipe import load_recipe
from harness.sweep.ablation import load_ablation

from .conftest import CE_ABLATION, REPO, TINY_SFT

SHIPPED = sorted((REPO / "ablations").glob("*.yaml"))


def ce(**kw):
    args = dict(name="s", base=TINY_SFT, lrs="[1.0e-4, 5.0e-4]", seeds="[0]", steps=2, epochs=1)
    args.update(kw)
    return CE_ABLATION.format(**args)


@pytest.mark.parametrize("edit, field, phrase", [
    (lambda t: t.replace("variants:", "variantz:"), "variantz", "did you mean 'variants'"),
    (lambda t: t.replace("train.lr: [1.0e-4, 5.0e-4]", "train.lr: {type: float, lwo: 1.0e-4, high: 1.0}"),
     "space.train.lr.lwo", "did you mean 'low'"),
    (lambda t: t.replace("lr_high: {train: {lr: 2.0e-3}}", "lr_high: {train: {lrr: 2.0e-3}}"),
     "variants.lr_high", "unknown key 'lrr'; did you mean 'lr'"),
    (lambda t: t.replace("train.lr: [1.0e-4, 5.0e-4]", "train.lrr: [1.0e-4]"), "space.train.lrr", "unknown key 'lrr'"),
    (lambda t: t.replace("direction: minimize", "direction: minimise"), "objective.direction", "did you mean 'minimize'"),
    (lambda t: t.replace("baseline: lr_high", "baseline: lr_hihg"), "table.baseline", "did you mean 'lr_high'"),
    (lambda t: t + "pruner: {name: median, n_warmup_step: 1}\n", "pruner.n_warmup_step", "did you mean 'n_warmup_steps'"),
    (lambda t: t + "sampler: {name: tpee}\n", "sampler.name", "did you mean 'tpe'"),
    (lambda t: t.replace("train.lr: [1.0e-4, 5.0e-4]", "train.lr: {type: float, low: 1.0e-4, high: 1.0}"),
     "space.train.lr", "grid sampler needs a list"),
    (lambda t: t.replace(f"base: {TINY_SFT}", "base: nowhere.yaml"), "base", "not found"),
    (lambda t: t.replace("retry: {heartbeat_interval: 1, grace_period: 4, max_retry: 2}", "retry: {heartbeat_interval: 5, grace_period: 4}"),
     "retry", "grace_period must be longer"),
])
def test_mistakes_name_the_file_and_field(tmp_path, edit, field, phrase):
    path = tmp_path / "bad.yaml"
    path.write_text(edit(ce()))
    with pytest.raises(RecipeError) as info:
        load_ablation(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert field in message and phrase in message, message
    assert "\n" not in message


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(ce().replace("variants:", "variantz:"))
    assert cli.main(["sweep", str(path), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "variantz" in err


def test_plan_puts_the_baseline_first_then_goes_seed_by_seed(write_ablation):
    ablation = load_ablation(write_ablation(seeds="[0, 1]"))
    plan = ablation.plan()
    labels = [(p.kind, p.variant, tuple(p.params.values()), p.seed) for p in plan]
    assert labels == [
        ("variant", "lr_high", (), 0), ("variant", "lr_high", (), 1),
        ("grid", None, (1e-4,), 0), ("grid", None, (5e-4,), 0),
        ("grid", None, (1e-4,), 1), ("grid", None, (5e-4,), 1),
    ]
    assert len(ablation.plan(3)) == 3 and ablation.plan(3) == plan[:3]
    assert ablation.plan(100) == plan  # a grid cannot grow past its points


def test_sampled_points_run_every_seed_so_n_trials_must_fit(write_ablation):
    text = ce(seeds="[0, 1]", lrs="{type: float, low: 1.0e-4, high: 1.0e-2, log: true}") + "sampler: {name: tpe, seed: 3}\n"
    path = write_ablation(text=text)
    with pytest.raises(RecipeError, match="n_trials"):
        load_ablation(path)  # tpe with no n_trials
    path.write_text(text + "n_trials: 6\n")
    plan = load_ablation(path).plan()
    assert [p.kind for p in plan] == ["variant", "variant", "sampled", "sampled"]
    path.write_text(text + "n_trials: 5\n")
    with pytest.raises(RecipeError, match="multiple|each point runs all 2 seeds"):
        load_ablation(path)


def test_a_trials_recipe_is_what_the_run_reloads(write_ablation, tmp_path):
    """The worker writes the recipe to YAML for `harness run`; its hash must not change."""
    ablation = load_ablation(write_ablation())
    for recipe in (ablation.recipe("lr_high", seed=3), ablation.recipe(None, {"train.lr": 5e-4}, seed=0)):
        f = tmp_path / f"{recipe.hash[:8]}.yaml"
        f.write_text(recipe.to_yaml())
        again = load_recipe(f)
        assert again.hash == recipe.hash and again.name == recipe.name and again.seed == recipe.seed
    assert ablation.recipe("lr_high", seed=3).spec.train.lr == 2e-3
    assert ablation.recipe(None, {"train.lr": 5e-4}, seed=0).spec.train.lr == 5e-4
    assert ablation.recipe("lr_high", seed=3).spec.train.max_steps == 2  # file-level overrides apply


def test_replace_makes_a_ce_only_variant_of_a_multi_teacher_base(tmp_path):
    path = tmp_path / "ce.yaml"
    path.write_text(f"""\
name: ce_only
base: {REPO / 'recipes/tiny/agp_internvl.yaml'}
variants:
  ce: {{_replace: [objectives, teachers, combiner], combiner: sum, objectives: {{ce: {{weight: 1.0}}}}}}
  teachers_left: {{_replace: [objectives], objectives: {{ce: {{weight: 1.0}}}}}}
""")
    with pytest.raises(RecipeError, match=r"variants.teachers_left: teachers.perception_teacher: teacher 'perception_teacher' is not used"):
        load_ablation(path)  # replacing objectives alone leaves the teachers unused
    path.write_text(path.read_text().replace("  teachers_left: {_replace: [objectives], objectives: {ce: {weight: 1.0}}}\n", ""))
    recipe = load_ablation(path).recipe("ce")
    assert recipe.spec.teachers == {} and list(recipe.spec.objectives) == ["ce"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_ablation_and_its_tiny_counterpart_load(path):
    paper = load_ablation(path)
    assert paper.spec.table is not None and paper.spec.tiny
    tiny = load_ablation(path.parent / paper.spec.tiny)
    assert tiny.spec.table.kind == paper.spec.table.kind
    assert len(tiny.plan()) <= len(paper.plan())
    for variant in tiny.spec.variants:
        recipe = tiny.recipe(variant)
        assert recipe.spec.student.zoo is not None  # tiny counterparts stay on the tiny zoo
        assert recipe.spec.train.max_steps is not None and recipe.spec.train.max_steps <= 2
