"""The samplers and pruners an ablation may name, built from ``{name, **options}``.

Options are checked against the Optuna class's own signature (the same check
recipes use for components), so ``pruner: {name: median, n_warmup_step: 1}``
fails at load time with a suggestion instead of deep inside Optuna.
"""

from __future__ import annotations

import hashlib
from typing import Any

from harness.errors import RecipeError
from harness.options import check_options
from harness.registry import did_you_mean


def _samplers() -> dict[str, Any]:
    from optuna import samplers

    # "grid": every trial of a grid study is enqueued with fixed values, so the sampler
    # never draws; RandomSampler is only a placeholder Optuna needs.
    return {"grid": samplers.RandomSampler, "tpe": samplers.TPESampler, "random": samplers.RandomSampler}


def _pruners() -> dict[str, Any]:
    from optuna import pruners

    return {
        "none": pruners.NopPruner,
        "median": pruners.MedianPruner,
        "percentile": pruners.PercentilePruner,
        "successive_halving": pruners.SuccessiveHalvingPruner,
        "hyperband": pruners.HyperbandPruner,
        "threshold": pruners.ThresholdPruner,
    }


SAMPLER_NAMES = ("grid", "tpe", "random")
PRUNER_NAMES = ("none", "median", "percentile", "successive_halving", "hyperband", "threshold")


def _lookup(table: dict[str, Any], name: str, *, kind: str, field: str, file: str | None):
    if name not in table:
        raise RecipeError(
            f"unknown {kind} '{name}'{did_you_mean(name, table)} (known: {', '.join(table)})", file=file, field=field
        )
    return table[name]


def check_sampler(name: str, options: dict[str, Any], *, file: str | None) -> None:
    cls = _lookup(_samplers(), name, kind="sampler", field="sampler.name", file=file)
    if name == "grid":
        unknown = sorted(set(options) - {"seed"})
        if unknown:
            raise RecipeError(f"the grid sampler takes only 'seed' (got {', '.join(unknown)})", file=file, field="sampler")
        return
    check_options(cls, options, kind="sampler", name=name, field="sampler", file=file)


def check_pruner(name: str, options: dict[str, Any], *, file: str | None) -> None:
    cls = _lookup(_pruners(), name, kind="pruner", field="pruner.name", file=file)
    check_options(cls, options, kind="pruner", name=name, field="pruner", file=file)


def worker_seed(seed: int | None, worker: str | None) -> int | None:
    """The file's sampler seed mixed with a label (the trial number).

    Several workers seeded alike would draw the same "random" points; seeding each
    draw by its trial number keeps them apart and keeps a study reproducible.
    """
    if seed is None or worker is None:
        return seed
    digest = hashlib.sha256(f"{seed}:{worker}".encode()).hexdigest()
    return int(digest[:8], 16)


def build_sampler(name: str, options: dict[str, Any], *, worker: str | None = None):
    options = dict(options)
    if "seed" in options:
        options["seed"] = worker_seed(options["seed"], worker)
    cls = _samplers()[name]
    return cls(seed=options.get("seed")) if name == "grid" else cls(**options)


def build_pruner(name: str, options: dict[str, Any]):
    return _pruners()[name](**options)
