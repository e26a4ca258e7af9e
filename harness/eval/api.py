"""The evaluator's two entry points.

- :func:`evaluate_run`: called by :mod:`harness.runner` after training; evaluates
  the trained student on the recipe's ``data.eval`` with the recipe's ``eval``
  block and writes into ``<run>/eval``; returns the flat dict for run.json.
- :func:`evaluate`: ``harness eval``; any model (a folder, FAMILY:SCALE or
  FAMILY:zoo/SIZE) on any DriveBench-format data, into its own evaluation folder
  ``results/evals/<model-name>/<hash8>/`` (:func:`harness.rundir.open_evaluation`:
  the same contract and opening as a run folder's), never overwritten.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Sequence

from harness.errors import HarnessError
from harness.eval.aggregate import flat_summary
from harness.eval.pipeline import load_settings, run_evaluation
from harness.eval.prompts import resolve_system_prompt
from harness.eval.rejudge import NoVerdicts, verdicts_missing
from harness.integrity import content_hash, source_identity
from harness.paths import results_dir
from harness.registry import DATASETS, FAMILIES, JUDGES, did_you_mean
from harness.rundir import RunDir, evaluation_path, open_evaluation

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = "none"  # training prompts and evaluation prompts agree unless a recipe asks


def evaluate_run(recipe, student, run: RunDir, progress: bool = True) -> dict[str, Any]:
    """Evaluate a run's trained student into its ``eval/`` (:attr:`RunDir.eval_dir`); returns the flat summary."""
    spec = recipe.spec
    if spec.data.eval is None:
        raise HarnessError(f"{recipe.source or recipe.name}: data.eval: no evaluation dataset")
    dataset = DATASETS.build(spec.data.eval, field="data.eval", file=recipe.source)
    judge = JUDGES.build(spec.eval.judge, field="eval.judge", file=recipe.source)
    per_setting = load_settings(dataset, spec.eval.settings, dataset_name=spec.data.eval.name,
                                max_items=spec.eval.max_items)
    summary = run_evaluation(
        student, per_setting, judge, run=run, batch_size=spec.eval.batch_size, max_new_tokens=spec.eval.max_new_tokens,
        brief=resolve_system_prompt(getattr(spec.eval, "system_prompt", None) or DEFAULT_SYSTEM_PROMPT),
        progress=progress,
    )
    return flat_summary(summary)


# -- harness eval ----------------------------------------------------------------------
def family_of_folder(folder: Path) -> str:
    """The registered family whose config ``model_type`` matches the folder's config.json."""
    config = folder / "config.json"
    try:
        model_type = json.loads(config.read_text())["model_type"]
    except (OSError, ValueError, KeyError):
        raise HarnessError(f"--model {folder}: no readable config.json with a model_type; "
                           "is it a Hugging Face model folder (e.g. <run>/student)?") from None
    for name in FAMILIES.names():
        cls = FAMILIES.get(name)
        if getattr(cls.model_class.config_class, "model_type", None) == model_type:
            return name
    raise HarnessError(f"--model {folder}: model_type '{model_type}' belongs to no registered family "
                       f"(known: {', '.join(FAMILIES.names())})")


def parse_model_arg(model: str, dtype: str = "float32") -> dict[str, Any]:
    """``PATH`` | ``FAMILY:SCALE`` | ``FAMILY:zoo/SIZE`` → a model spec for :func:`load_model`."""
    import harness.models  # noqa: F401  (registers the families)

    path = Path(model).expanduser()
    if path.is_dir():
        return {"family": family_of_folder(path), "path": str(path.resolve()), "dtype": dtype}
    family, sep, rest = model.partition(":")
    if sep and family in FAMILIES and rest:
        if rest.startswith("zoo/"):
            return {"family": family, "zoo": rest[len("zoo/"):], "dtype": dtype}
        return {"family": family, "scale": rest, "dtype": dtype}
    if sep and family and rest and not ("/" in family or "\\" in family):
        raise HarnessError(f"--model {model}: unknown family '{family}'{did_you_mean(family, FAMILIES.names())} "
                           f"(known: {', '.join(FAMILIES.names())})")
    raise HarnessError(f"--model {model}: not a folder, FAMILY:SCALE or FAMILY:zoo/SIZE "
                       f"(families: {', '.join(FAMILIES.names())})")


def parse_data_arg(data: str, data_root: str | None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
    """A DriveBench JSON file or a registered dataset name → (dataset name, options)."""
    import harness.data  # noqa: F401  (registers the datasets)

    options = dict(options or {})
    path = Path(data).expanduser()
    if path.is_file() or data.endswith(".json"):
        if not path.is_file():
            raise HarnessError(f"--data {data}: no such file")
        out = {"path": str(path.resolve()), **options}
        if data_root is not None:
            out["data_root"] = str(Path(data_root).expanduser().resolve())
        return "drivebench", out
    if data in DATASETS:
        if data_root is not None:
            options.setdefault("data_root", data_root)
        return data, options
    raise HarnessError(f"--data {data}: neither a DriveBench JSON file nor a dataset name"
                       f"{did_you_mean(data, DATASETS.names())} (datasets: {', '.join(DATASETS.names())})")


def _folder_name(spec: dict[str, Any]) -> str:
    if "path" in spec:
        tail = "-".join(Path(spec["path"]).parts[-2:])
        name = f"{spec['family']}_{tail}"
    elif "zoo" in spec:
        name = f"{spec['family']}_zoo-{spec['zoo']}"
    else:
        name = f"{spec['family']}_{spec['scale']}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def evaluate(model: str, data: str, settings: Sequence[str] = ("clean",), judge: str = "rubric",
             judge_options: dict[str, Any] | None = None, *, data_root: str | None = None,
             data_options: dict[str, Any] | None = None, batch_size: int = 8, max_new_tokens: int = 64,
             max_items: int | None = None, system_prompt: str = DEFAULT_SYSTEM_PROMPT, dtype: str = "float32",
             results_root: str | Path | None = None, force: bool = False, progress: bool = True) -> RunDir:
    """Evaluate a model on DriveBench-format data into ``results/evals/<model>/<hash8>/``."""
    from harness.devices import default_device
    from harness.models import load_model

    if batch_size < 1 or max_new_tokens < 1 or (max_items is not None and max_items < 1):
        raise HarnessError("--batch-size, --max-new-tokens and --max-items must be ≥ 1")
    model_spec = parse_model_arg(model, dtype)
    data_name, data_opts = parse_data_arg(data, data_root, data_options)
    dataset = DATASETS.build({"name": data_name, **data_opts}, field="--data")
    judge_obj = JUDGES.build({"name": judge, **(judge_options or {})}, field="--judge")
    brief = resolve_system_prompt(system_prompt)
    settings = list(settings)
    per_setting = load_settings(dataset, settings, dataset_name=data_name, max_items=max_items)
    identity = {"model": source_identity(model_spec), "data": {"name": data_name, **data_opts}, "settings": settings,
                "judge": judge_obj.judge_id, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
                "max_items": max_items, "system_prompt": brief}
    digest = content_hash(identity)
    root = Path(results_root) if results_root is not None else results_dir()
    base = evaluation_path(root, _folder_name(model_spec), digest)
    if RunDir(base).status == "finished" and not force:
        log.info("already evaluated: %s (use --force to evaluate again)", base)
        return RunDir(base)
    loaded = load_model(model_spec, device=default_device())  # user errors surface before any directory exists
    opened = open_evaluation(base, force=force, fields={
        "model": loaded.name, "model_spec": model_spec, "data": identity["data"], "settings": settings,
        "judge_id": judge_obj.judge_id, "judge": {"name": judge, **recorded_judge_options(judge_options)},
        "eval": {"batch_size": batch_size, "max_new_tokens": max_new_tokens, "max_items": max_items,
                 "system_prompt": system_prompt},
        "identity_hash": digest,
    })
    run = opened.run
    if opened.existing:  # finished by another process while this one loaded the model
        log.info("already evaluated: %s (use --force to evaluate again)", run.path)
        return run
    try:
        summary = run_evaluation(loaded, per_setting, judge_obj, run=run, batch_size=batch_size,
                                 max_new_tokens=max_new_tokens, brief=brief, progress=progress)
        run.finish(summary={"eval": flat_summary(summary)})
    except KeyboardInterrupt:
        run.interrupt("interrupted")
        raise
    except Exception as exc:
        run.fail(f"{type(exc).__name__}: {exc}" if not isinstance(exc, HarnessError) else str(exc))
        raise
    finally:
        opened.release()
    problem = verdicts_missing(run)
    if problem is not None:
        raise NoVerdicts(problem)
    return run


def recorded_judge_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The judge options as run.json records them: credentials in ``base_url`` removed."""
    from harness.eval.judges.http import split_credentials

    out = dict(options or {})
    if isinstance(out.get("base_url"), str):
        out["base_url"] = split_credentials(out["base_url"])[0]
    return out

