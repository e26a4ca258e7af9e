"""Ablation files: a base recipe, named variants, a search space, seeds and the table to draw.

``load_ablation(path)`` reads and checks the whole file before anything runs: the
schema (unknown keys are errors that name the dotted field and suggest the
closest key), the sampler and pruner options, and every variant and search-space
entry by actually building its recipe, so a typo in ``variants.pcgrad.combiner``
is reported at once instead of after an hour of other trials.

:meth:`Ablation.recipe` is the one place that turns (variant, params, seed) into a
:class:`~harness.recipe.LoadedRecipe`; the sweep, the benchmark and the tests all
go through it, so a trial's run directory is always the recipe's own.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import RecipeError
from harness.integrity import content_hash
from harness.recipe import LoadedRecipe, recipe_from_dict
from harness.recipe.loader import read_yaml, resolve_extends
from harness.recipe.messages import recipe_error
from harness.recipe.schema import folder_name
from harness.registry import did_you_mean
from harness.report.spec import TableSection, table_section
from harness.sweep import optuna_parts
from harness.sweep.overrides import REPLACE_KEY, apply_variant, flatten, set_path
from harness.sweep.space import Distribution


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ObjectiveSpec(_Strict):
    """What a trial is scored by: a dotted path into run.json's ``summary``."""

    metric: str = Field("eval.avg", description="dotted path into run.json summary, e.g. eval.avg or final_losses.ce")
    direction: Literal["maximize", "minimize"] = Field("maximize", description="maximize or minimize")


class _Named(BaseModel):
    """``{name, **options}``, or a bare name."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SamplerSpec(_Named):
    """How trials beyond the enqueued ones pick values: grid | tpe | random (+ Optuna options)."""

    name: str = Field("grid", description="grid | tpe | random")


class PrunerSpec(_Named):
    """Stopping unpromising trials early from intermediate values in metrics.jsonl."""

    name: str = Field("none", description="none | median | percentile | successive_halving | hyperband | threshold")
    metric: str = Field("loss.ce", description="dotted path into a metrics.jsonl record (same direction as the objective)")


class RetrySpec(_Strict):
    """Worker liveness: a trial whose worker stops beating for ``grace_period`` s is retried."""

    heartbeat_interval: int = Field(20, ge=1, description="seconds between a running trial's heartbeats")
    grace_period: int = Field(90, ge=1, description="seconds without a heartbeat before a trial counts as dead")
    max_retry: int = Field(3, ge=0, description="how often one trial is retried after its worker died")

    @model_validator(mode="after")
    def _grace_covers_beats(self) -> "RetrySpec":
        if self.grace_period <= self.heartbeat_interval:
            raise ValueError("grace_period must be longer than heartbeat_interval")
        return self


class AblationSpec(_Strict):
    """One study: the runs behind one paper table (or any sweep)."""

    name: str = Field(description="study name (storage, results/sweeps/<name>/)")
    description: str = Field("", description="free text")
    base: str = Field(description="base recipe, relative to the ablation file")
    overrides: dict[str, Any] = Field({}, description="recipe overrides applied to the base before any variant (e.g. tiny sizes)")
    variants: dict[str, dict[str, Any]] = Field({}, description="named recipe overrides (a table's rows)")
    space: dict[str, Distribution] = Field({}, description="search space by dotted recipe path")
    seeds: Optional[list[int]] = Field(None, description="each configuration runs once per seed (default: the base recipe's seed)")
    n_trials: Optional[int] = Field(None, ge=1, description="number of trials (default: every variant/grid point × seed)")
    objective: ObjectiveSpec = Field(ObjectiveSpec(), description="metric and direction")
    sampler: SamplerSpec = Field(SamplerSpec(), description="grid | tpe | random")
    pruner: PrunerSpec = Field(PrunerSpec(), description="none | median | … (+ metric in metrics.jsonl)")
    retry: RetrySpec = Field(RetrySpec(), description="heartbeats and retries of trials whose worker died")
    table: Optional[TableSection] = Field(None, description="what `harness report` draws")
    tiny: Optional[str] = Field(None, description="the tiny counterpart (relative path)")

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        return folder_name(value, what="study / folder name", forbidden="/\\ \t\n:")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value):
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("seeds must be a non-empty list without repeats")
        return value


@dataclass(frozen=True)
class PlannedTrial:
    """One trial to enqueue: a variant or a grid point (fixed values), or a point to sample."""

    kind: Literal["variant", "grid", "sampled"]
    seed: int
    variant: Optional[str] = None
    params: dict[str, Any] = field(default_factory=dict)  # Optuna-encoded values

    def user_attrs(self) -> dict[str, Any]:
        return {"harness.kind": self.kind, "harness.seed": self.seed, "harness.variant": self.variant}


@dataclass
class Ablation:
    """A loaded, checked ablation file."""

    spec: AblationSpec
    path: Path
    base_path: Path
    base_data: dict[str, Any]
    base_seed: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def seeds(self) -> list[int]:
        return list(self.spec.seeds) if self.spec.seeds is not None else [self.base_seed]

    @property
    def samples_space(self) -> bool:
        """Whether the sampler draws points (tpe/random over a non-empty space)."""
        return bool(self.spec.space) and self.spec.sampler.name != "grid"

    # -- recipes ----------------------------------------------------------------------------

    def recipe(self, variant: str | None = None, params: dict[str, Any] | None = None, seed: int | None = None) -> LoadedRecipe:
        """The recipe of one configuration and seed (``params`` hold recipe values, decoded)."""
        where = f"variants.{variant}" if variant else "space"
        data = copy.deepcopy(self.base_data)
        try:
            if variant is not None:
                if variant not in self.spec.variants:
                    known = list(self.spec.variants)
                    raise RecipeError(f"no variant '{variant}'{did_you_mean(variant, known)} (known: {', '.join(known) or 'none'})")
                data = apply_variant(data, self.spec.variants[variant], where=where)
            for path, value in (params or {}).items():
                set_path(data, path, value)
            data["seed"] = self.base_seed if seed is None else seed
            return recipe_from_dict(data, source=str(self.base_path))
        except RecipeError as exc:
            inner = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
            raise RecipeError(inner, file=str(self.path), field=where) from None

    def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        """Optuna-stored values → recipe values."""
        return {k: self.spec.space[k].decode(v) for k, v in params.items()}

    def variant_params(self, variant: str) -> dict[str, Any]:
        """A variant's overrides as flat dotted paths (what run.json's params record)."""
        overrides = {k: v for k, v in self.spec.variants[variant].items() if k != REPLACE_KEY}
        return flatten(overrides)

    # -- the plan ---------------------------------------------------------------------------

    def fixed_trials(self) -> list[PlannedTrial]:
        """Variants and grid points × seeds, baseline first (all its seeds), then seed-major."""
        seeds = self.seeds
        baseline = self.spec.table.baseline if self.spec.table else None
        out: list[PlannedTrial] = []
        if baseline in self.spec.variants:
            out += [PlannedTrial("variant", s, baseline) for s in seeds]
        others = [v for v in self.spec.variants if v != baseline]
        for s in seeds:
            out += [PlannedTrial("variant", s, v) for v in others]
        if self.spec.space and not self.samples_space:
            points = grid_points(self.spec.space)
            for s in seeds:
                out += [PlannedTrial("grid", s, None, p) for p in points]
        return out

    def plan(self, n_trials: int | None = None) -> list[PlannedTrial]:
        """What to enqueue: the first fixed trials, then one sampled point per seed group."""
        n = n_trials if n_trials is not None else self.spec.n_trials
        fixed = self.fixed_trials()
        if n is None:
            if self.samples_space:
                raise RecipeError(
                    f"the {self.spec.sampler.name} sampler draws points from the space, so give n_trials "
                    "(in the file or --n-trials)", file=str(self.path), field="n_trials")
            return fixed
        if n <= len(fixed) or not self.samples_space:
            return fixed[:n]
        rest = n - len(fixed)
        seeds = self.seeds
        if rest % len(seeds):
            raise RecipeError(
                f"{n} trials leave {rest} for sampled points, but each point runs all {len(seeds)} seeds; "
                f"use {len(fixed) + (rest // len(seeds) + 1) * len(seeds)} or {len(fixed) + rest // len(seeds) * len(seeds)}",
                file=str(self.path), field="n_trials")
        return fixed + [PlannedTrial("sampled", seeds[0]) for _ in range(rest // len(seeds))]

    def fingerprint(self) -> str:
        """Identity of what this file asks for (a stored study must match it)."""
        blob = {
            "base": recipe_from_dict(dict(self.base_data, seed=self.base_seed), check=False).hash,
            "variants": self.spec.variants,
            "space": {k: v.model_dump(mode="json") for k, v in self.spec.space.items()},
            "seeds": self.seeds,
            "objective": self.spec.objective.model_dump(mode="json"),
            "sampler": self.spec.sampler.name,
        }
        return content_hash(blob)[:16]


def grid_points(space: dict[str, Distribution]) -> list[dict[str, Any]]:
    """The Cartesian product of the grid entries, first key varying slowest."""
    points: list[dict[str, Any]] = [{}]
    for path, dist in space.items():
        points = [dict(p, **{path: v}) for p in points for v in dist.grid_values()]
    return points


def _check(ablation: Ablation) -> None:
    """Build every variant's recipe and every space value once, so mistakes surface now."""
    spec = ablation.spec
    file = str(ablation.path)
    optuna_parts.check_sampler(spec.sampler.name, spec.sampler.options, file=file)
    optuna_parts.check_pruner(spec.pruner.name, spec.pruner.options, file=file)
    if spec.sampler.name == "grid":
        for path, dist in spec.space.items():
            if not dist.enumerable:
                raise RecipeError("the grid sampler needs a list of values or an int range here "
                                  "(or use sampler tpe / random)", file=file, field=f"space.{path}")
    for variant in spec.variants:
        ablation.recipe(variant, seed=ablation.seeds[0])
    for path, dist in spec.space.items():
        values = dist.choices if dist.type == "categorical" else [dist.representative()]
        for value in values:
            try:
                ablation.recipe(None, {path: value}, seed=ablation.seeds[0])
            except RecipeError as exc:
                raise RecipeError(f"{value!r}: {exc.detail}", file=file, field=f"space.{path}") from None
    if not spec.variants and not spec.space:
        raise RecipeError("an ablation needs variants, a space, or both", file=file)
    by_variant = spec.table is not None and spec.table.rows in ("variant", "") and spec.table.kind != "settings"
    if by_variant and spec.table.baseline is not None:
        if spec.table.baseline not in spec.variants:
            known = list(spec.variants)
            raise RecipeError(f"'{spec.table.baseline}' is not a variant{did_you_mean(spec.table.baseline, known)}",
                              file=file, field="table.baseline")
    if spec.tiny is not None and not (ablation.path.parent / spec.tiny).exists():
        raise RecipeError(f"'{spec.tiny}' not found (looked next to the ablation file)", file=file, field="tiny")
    ablation.plan()  # n_trials consistency


def load_ablation(path: str | Path) -> Ablation:
    """Read and check an ablation file; every mistake is one RecipeError naming the field."""
    path = Path(path)
    file = str(path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    table_section(data, file)  # the report's check of `table:`, so both give the same error
    try:
        spec = AblationSpec.model_validate(data)
    except ValidationError as exc:
        raise recipe_error(AblationSpec, exc, file) from None
    base_path = (path.parent / spec.base).resolve()
    if not base_path.exists():
        raise RecipeError(f"base recipe '{spec.base}' not found (looked for {base_path})", file=file, field="base")
    base_data = resolve_extends(base_path)
    base_data.setdefault("name", base_path.stem)
    if spec.overrides:
        try:
            base_data = apply_variant(base_data, spec.overrides, where="overrides")
        except RecipeError as exc:
            raise RecipeError(exc.detail, file=file, field=exc.field or "overrides") from None
    base_seed = recipe_from_dict(base_data, source=str(base_path)).seed
    ablation = Ablation(spec=spec, path=path, base_path=base_path, base_data=base_data, base_seed=base_seed)
    _check(ablation)
    return ablation


def describe(trial_attrs: dict[str, Any], params: dict[str, Any]) -> str:
    """A short label for a configuration: the variant name or its params."""
    variant = trial_attrs.get("harness.variant")
    if variant:
        return str(variant)
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(base)"


def config_key(trial_attrs: dict[str, Any], params: dict[str, Any]) -> str:
    """Identity of a configuration regardless of its seed (for ranking and reruns)."""
    return json.dumps({"variant": trial_attrs.get("harness.variant"), "params": params}, sort_keys=True, default=str)
