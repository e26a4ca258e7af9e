"""The house's layering, stated: which packages may import which (read from the source's imports)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "harness"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else [ROOT / f"{package}.py"]


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT.parent)} imports {module}"
            for path in files(package) for module in sorted(imports_of(path))
            if any(module == f or module.startswith(f + ".") for f in forbidden)]


@pytest.mark.parametrize("package, forbidden", [
    ("train", ("harness.eval",)),
    ("eval", ("harness.train",)),
])
def test_train_and_eval_never_import_each_other(package, forbidden):
    assert offenders(package, forbidden) == []


BELOW_THE_CLI = ("registry", "options", "errors", "recipe", "rundir", "paths", "models", "data", "signals", "combine",
                 "train", "eval", "runner", "sweep", "report", "demo", "components")


@pytest.mark.parametrize("package", BELOW_THE_CLI)
def test_nothing_below_the_cli_imports_it(package):
    assert offenders(package, ("harness.cli", "harness.commands")) == []


def test_pure_math_and_the_foundation_import_no_higher_layer():
    higher = ("harness.runner", "harness.sweep", "harness.report", "harness.demo", "harness.api")
    for package in ("combine", "signals", "registry", "options", "errors", "recipe", "models", "data"):
        assert offenders(package, higher) == [], package


def test_family_adapters_do_not_import_the_zoo():
    """The loader resolves `zoo:`; an adapter (base.py and each family file) never builds zoo models."""
    adapters = [p for p in files("models") if p.name not in ("zoo.py", "loader.py", "__init__.py")]
    assert [f"{p.name} imports {m}" for p in adapters for m in imports_of(p) if m == "harness.models.zoo"] == []
