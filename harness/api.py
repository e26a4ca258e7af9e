"""The Python API: what the CLI does, callable from a notebook without a subprocess.

Each function here is what one ``harness`` subcommand calls; the CLI only parses
arguments and prints. Heavy modules are imported inside the functions, so
``import harness`` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from harness.recipe import LoadedRecipe, load_recipe
from harness.registry import REGISTRIES, registry


def ls(kind: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """Registered components as ``{kind: [(name, one-line description), ...]}``."""
    if kind is not None:
        reg = registry(kind)
        return {reg.kind: [(e.name, e.description) for e in reg.entries()]}
    registry("families")  # load built-ins and plugins
    return {k: [(e.name, e.description) for e in r.entries()] for k, r in REGISTRIES.items()}


def validate(path: str | Path, overrides: Iterable[str] = (), *, check_files: bool = False) -> LoadedRecipe:
    """Check a recipe without running it (names resolve, options fit, layer specs parse; with
    ``check_files``, every local path it names exists)."""
    recipe = load_recipe(path, overrides)
    if check_files:
        from harness.recipe.files import check_files as check

        check(recipe)
    return recipe


def run(recipe: str | Path | LoadedRecipe, overrides: Iterable[str] = (), **options: Any):
    """Run a recipe end to end (train, then evaluate) and return its run directory."""
    from harness.runner import run_recipe

    return run_recipe(recipe, overrides=overrides, **options)


def evaluate(*args: Any, **kwargs: Any):
    """Evaluate a model on DriveBench-format data."""
    from harness.eval.api import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def run_sweep(*args: Any, **kwargs: Any):
    """Run an ablation study (``harness sweep``; see :func:`harness.sweep.study.sweep`)."""
    from harness.sweep.study import sweep as _sweep

    return _sweep(*args, **kwargs)


def write_report(*args: Any, **kwargs: Any):
    """Write tables and plots from runs or an ablation (``harness report``; see
    :func:`harness.report.api.report`); returns the written paths by format."""
    from harness.report.api import report as _report

    return _report(*args, **kwargs)


def build_zoo(*args: Any, **kwargs: Any):
    """Build the tiny offline model zoo."""
    from harness.models.zoo import build_zoo as _build_zoo

    return _build_zoo(*args, **kwargs)


def synth(out: str | Path, *, force: bool = False, **config: Any):
    """Generate the synthetic DriveBench-format benchmark into ``out`` (options as `harness data synth`)."""
    from harness.data.synthetic.writer import SynthConfig, generate

    return generate(out, SynthConfig(**config), force=force)
