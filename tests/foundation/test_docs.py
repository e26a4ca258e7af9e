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
