"""Experiment trackers (TensorBoard, W&B, MLflow, trackio, …) fed from the metrics records.

accelerate already speaks to these trackers; this module only decides what they
are called and what they are told. A run's trackers come from the recipe's
``train.trackers`` (a tracker name, or ``{name, project, logging_dir, **options}``
where the other options go to the tracker as accelerate passes them). Each tracker
gets

- one run per harness run, named after the run folder and grouped by the sweep's
  study (else by the recipe name), with the trial number when it is a trial;
- as parameters, the resolved recipe (flattened to dotted keys) and its hash;
- every metrics.jsonl record as flat scalars (:func:`scalars`), so the tracker
  and metrics.jsonl never disagree; the evaluation scores at the end.

Only rank 0 opens trackers. Nothing leaves the machine by default: TensorBoard and
MLflow write local files, W&B runs ``mode: offline`` unless the recipe or
``WANDB_MODE`` says otherwise, and trackio stays local unless given a Space.
A tracker whose package is missing is an error at ``harness validate``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from harness.errors import RecipeError

logger = logging.getLogger(__name__)

# pip package of each of accelerate's trackers, and the harness extra that installs it
PACKAGES = {
    "tensorboard": "tensorboard",
    "wandb": "wandb",
    "mlflow": "mlflow",
    "trackio": "trackio",
    "aim": "aim",
    "comet_ml": "comet-ml",
    "clearml": "clearml",
    "dvclive": "dvclive",
    "swanlab": "swanlab",
}
EXTRAS = ("tensorboard", "wandb", "mlflow", "trackio")
DEFAULT_PROJECT = "drivekd-harness"
HARNESS_OPTIONS = ("project", "logging_dir")  # read here; every other option goes to the tracker


def _tracker_classes() -> dict[str, type]:
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    return dict(LOGGER_TYPE_TO_CLASS)


def _installed(name: str) -> bool:
    """accelerate's own availability check for its built-in trackers; a plugin tracker is always there."""
    from accelerate.tracking import get_available_trackers

    if name not in PACKAGES:
        return True
    available = {str(t) for t in get_available_trackers()}
    if name == "tensorboard":  # accelerate accepts tensorboardX alone, but SummaryWriter needs tensorboard
        return "tensorboard" in available and importlib.util.find_spec("tensorboard") is not None
    return name in available


def install_hint(name: str) -> str:
    package = PACKAGES.get(name, name)
    extra = f" (or pip install 'drivekd-harness[{name}]')" if name in EXTRAS else ""
    return f"pip install {package}{extra}"


def check_trackers(specs: Iterable[Any], *, file: str | None) -> None:
    """Every tracker is one accelerate knows, listed once, given options it takes, and installed; else a RecipeError."""
    from harness.registry import did_you_mean

    specs = list(specs)
    if not specs:
        return
    classes = _tracker_classes()
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        field = f"train.trackers.{i}"
        if spec.name not in classes:
            known = sorted(classes)
            raise RecipeError(f"unknown tracker '{spec.name}'{did_you_mean(spec.name, known)} (accelerate's trackers: "
                              f"{', '.join(known)})", file=file, field=field)
        if spec.name in seen:
            raise RecipeError(f"tracker '{spec.name}' is listed twice", file=file, field=field)
        seen.add(spec.name)
        accepted = _accepted_options(classes[spec.name])
        for key in spec.options:
            if accepted is not None and key not in accepted and key not in HARNESS_OPTIONS:
                raise RecipeError(f"unknown option '{key}' of tracker '{spec.name}'{did_you_mean(key, accepted)} "
                                  f"(options: {', '.join(sorted({*accepted, *HARNESS_OPTIONS}))})",
                                  file=file, field=f"{field}.{key}")
        if not _installed(spec.name):
            raise RecipeError(f"tracker '{spec.name}' is not installed: {install_hint(spec.name)}", file=file,
                              field=field)


def _accepted_options(cls: type) -> list[str] | None:
    """The keyword options a tracker class takes, or None when it passes any on (``**kwargs``)."""
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name not in ("self", "run_name", "experiment_name")]


# -- what a tracker is told ----------------------------------------------------------------


def flat_params(resolved: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The resolved recipe as ``{"train.lr": 1e-3, …}``: scalars as they are, lists as JSON text."""
    out: dict[str, Any] = {}
    for key, value in resolved.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_params(value, f"{name}."))
        elif isinstance(value, (list, tuple, dict)):
            out[name] = json.dumps(value, sort_keys=True)
        else:
            out[name] = value
    return out


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """One metrics.jsonl record as tracker scalars, grouped by prefix (TensorBoard's sections).

    ``loss/<objective>``, ``weight/<objective>`` (the combiner's), ``cosine/<a>_vs_<b>``
    (each pair of objective gradients), ``conflict/pairs`` (negative pairs at the last
    combination), ``conflict/share_of_steps`` (since the last log point),
    ``grad_norm/<objective>`` (before combination), ``grad_norm/combined`` (after),
    ``grad_norm/step`` (the step's whole update), ``train/lr``, ``train/tokens_per_s``
    and ``train/step_seconds``. Undefined values (a cosine next to a zero gradient) are left out.
    """
    out: dict[str, float] = {}
    for name, value in (record.get("loss") or {}).items():
        out[f"loss/{name}"] = value
    combine = record.get("combine") or {}
    for name, value in (combine.get("weights") or {}).items():
        out[f"weight/{name}"] = value
    cosine = combine.get("cosine") or {}
    names = list(cosine)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            out[f"cosine/{a}_vs_{b}"] = cosine[a][b]
    if "conflicts" in combine:
        out["conflict/pairs"] = combine["conflicts"]
    if "conflict_share" in record:
        out["conflict/share_of_steps"] = record["conflict_share"]
    for name, value in (combine.get("grad_norms") or {}).items():
        out[f"grad_norm/{name}"] = value
    out["grad_norm/combined"] = combine.get("combined_norm")
    out["grad_norm/step"] = record.get("grad_norm")
    for key in ("lr", "tokens_per_s", "step_seconds"):
        out[f"train/{key}"] = record.get(key)
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


@dataclass(frozen=True)
class RunNaming:
    """How a run shows up in a tracker: its name, its group, and the trial it is, if any."""

    name: str
    group: str
    trial: int | None = None

    @classmethod
    def of(cls, recipe_name: str, run_folder: str, *, study: str | None = None, trial: int | None = None) -> "RunNaming":
        name = f"{recipe_name}-{run_folder}"
        if trial is not None:
            name = f"trial-{trial:04d}-{name}"
        return cls(name=name, group=study or recipe_name, trial=trial)


def construct_tracker(name: str, cls: type, options: dict[str, Any], naming: RunNaming, results_root: Path):
    """accelerate's tracker ``name`` for this run (not started yet)."""
    options = dict(options)
    project = options.pop("project", None)
    logging_dir = options.pop("logging_dir", None)
    if name == "tensorboard":  # events under <logging_dir>/[<project>/]<group>/<run>
        parts = [p for p in (project, naming.group, naming.name) if p]
        return cls("/".join(parts), str(logging_dir or results_root / "tensorboard"), **options)
    if name == "mlflow":  # one experiment (the project); the study and trial are tags
        tags = {"group": naming.group, **({"trial": str(naming.trial)} if naming.trial is not None else {}),
                **(options.pop("tags", None) or {})}
        return cls(experiment_name=project or DEFAULT_PROJECT, logging_dir=logging_dir, run_name=naming.name,
                   tags=tags, **options)
    if name == "wandb":  # wandb.init(project=…, **options)
        options.setdefault("mode", os.environ.get("WANDB_MODE", "offline"))
        options.setdefault("dir", str(logging_dir or results_root))
        Path(options["dir"]).mkdir(parents=True, exist_ok=True)
        options.setdefault("name", naming.name)
        options.setdefault("group", naming.group)
        return cls(project or DEFAULT_PROJECT, **options)
    if name == "trackio":  # trackio.init(project=…, **options); local unless given a space_id
        options.setdefault("name", naming.name)
        options.setdefault("group", naming.group)
        return cls(project or DEFAULT_PROJECT, **options)
    # any other accelerate tracker: accelerate's own convention (project name, then its folder if it needs one)
    if getattr(cls, "requires_logging_directory", False):
        return cls(project or naming.group, str(logging_dir or results_root / name), **options)
    return cls(project or naming.group, **options)


class Tracking:
    """The open trackers of one run (none: every call is a no-op)."""

    def __init__(self, trackers: list | None = None):
        self.trackers = list(trackers or [])

    def __bool__(self) -> bool:
        return bool(self.trackers)

    @classmethod
    def open(cls, specs: Iterable[Any], *, params: dict[str, Any], naming: RunNaming,
             results_root: str | Path) -> "Tracking":
        """Start each tracker of ``specs`` and store ``params`` as the run's parameters."""
        specs = list(specs)
        if not specs:
            return cls()
        classes = _tracker_classes()
        trackers = []
        try:
            for spec in specs:
                tracker = construct_tracker(spec.name, classes[spec.name], spec.options, naming, Path(results_root))
                tracker.start()
                trackers.append(tracker)
                tracker.store_init_configuration(params)
                logger.debug("tracking with %s as %s (group %s)", spec.name, naming.name, naming.group)
        except BaseException:
            cls(trackers).close()
            raise
        return cls(trackers)

    def log(self, record: dict[str, Any]) -> None:
        """A metrics record, at its step."""
        values = scalars(record)
        if values and self.trackers:
            for tracker in self.trackers:
                tracker.log(values, step=int(record["step"]))

    def log_eval(self, summary: dict[str, Any], step: int) -> None:
        """The evaluation's numeric scores as ``eval/<key>``, at the last training step."""
        values = {f"eval/{k}": float(v) for k, v in (summary or {}).items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if values:
            for tracker in self.trackers:
                tracker.log(values, step=step)

    def around(self, log: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        """``log`` (metrics.jsonl) followed by the trackers, for the trainer's log points."""
        if not self.trackers:
            return log

        def both(record: dict[str, Any]) -> None:
            log(record)
            self.log(record)

        return both

    def close(self) -> None:
        for tracker in self.trackers:
            try:
                tracker.finish()
            except Exception as exc:  # one tracker failing to close must not hide the run's outcome
                logger.warning("closing %s failed: %s", getattr(tracker, "name", tracker), exc)
        self.trackers = []
