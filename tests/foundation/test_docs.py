"""The docs that are generated from code, or that promise files, stay true."""

from pathlib import Path

from harness.paths import REPO_ROOT
from harness.recipe.reference import render


def test_recipe_reference_is_current():
    committed = (REPO_ROOT / "docs" / "recipes.md").read_text()
    assert committed == render(), "docs/recipes.md is stale: python -m harness.recipe.reference > docs/recipes.md"


def test_layout_of_the_house_plan_exists():
    for name in ("README.md", "pyproject.toml", "Makefile", ".ci/run", "harness", "recipes", "ablations",
                 "results/README.md", "benchmarks", "tests", "docs/architecture.md", "docs/recipes.md",
                 "docs/extending.md"):
        assert (REPO_ROOT / name).exists(), name


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make test" in readme
    ci = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-1] == "make test"


def test_results_are_ignored_except_the_readme():
    ignore = (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert "results/*" in ignore and "!results/README.md" in ignore


def test_the_extending_example_combiner_works():
    import re

    import torch

    from harness.combine import aggregate
    from harness.registry import COMBINERS

    text = (REPO_ROOT / "docs" / "extending.md").read_text()
    code = re.search(r"```python\n# harness/combine/equal.py\n(.*?)```", text, re.S).group(1)
    try:
        exec(compile(code, "docs/extending.md", "exec"), {})
        grads = torch.tensor([[1.0, 0.0], [0.0, 3.0]], dtype=torch.float64)
        out = aggregate(grads, ["a", "b"], "equal", scale=2.0)
        assert torch.allclose(out, torch.tensor([1.0, 3.0], dtype=torch.float64))
    finally:
        COMBINERS.unregister("equal")


def test_readme_gpu_recipe_example_validates(tmp_path):
    """The README's 'weights by path' recipe is a real recipe (only `extends` is made absolute)."""
    import re

    from harness.recipe import load_recipe

    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(# my_agp\.yaml.*?)```", readme, re.S).group(1)
    text = block.replace("extends: recipes/", f"extends: {REPO_ROOT}/recipes/")
    path = tmp_path / "my_agp.yaml"
    path.write_text(text)
    spec = load_recipe(path).spec
    assert spec.student.path == "/models/InternVL3-1B" and spec.student.scale is None
    assert {t.path for t in spec.teachers.values()} == {
        "/models/internvl3-8b-perception", "/models/internvl3-8b-reasoning", "/models/internvl3-8b-planning"}
