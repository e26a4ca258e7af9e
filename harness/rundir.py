"""The run-directory contract every stage writes into and every reader relies on.

``results/runs/<recipe-name>/<config-hash8>-s<seed>/`` holds

- ``recipe.resolved.yaml``: the recipe after ``extends:`` and ``--set`` with every default
  and component version filled in (running it again reproduces the run);
- ``run.json``: status (running | finished | failed | interrupted), start/end times, git
  commit, package versions, hardware, seed, configuration hash and identity version;
- ``metrics.jsonl``: one JSON object per logged step;
- ``checkpoints/step-NNNNNNNN/`` while it trains, ``student/`` (the trained student as
  a plain Hugging Face folder) when it has;
- ``eval/``: ``<setting>/predictions.jsonl``, ``scores.parquet`` and ``summary.json``.

An evaluation by ``harness eval`` (``results/evals/<model>/<hash8>/``) is the same
kind of folder without a recipe, metrics or student: its ``run.json`` says
``kind: eval`` and its results are in the same ``eval/``. Every path of either is a
:class:`RunDir` property; no other module spells one. Both are opened by the same
code (:func:`open_run`, :func:`open_evaluation`): a finished one is never
overwritten, starting it again is a no-op that says where its results are, unless
``force`` asks for a fresh ``-2`` sibling, and the folder is locked while it is written.

Every file is written atomically (:mod:`harness.files`), so a reader never sees half
a file and a killed process leaves no partial results.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.files import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from harness.locks import RunLock

STATUSES = ("running", "finished", "failed", "interrupted")
IDENTITY = 2  # how run folders are named (harness.recipe.identity); 1: the hash of the recipe as written
INFO_FILE = "run.json"  # the file that makes a folder a run (or evaluation) folder
EVAL_DIR = "eval"
TRACKED_PACKAGES = ("drivekd-harness", "torch", "transformers", "accelerate", "optuna", "numpy", "pandas")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """The checkout's commit (with ``-dirty`` when it has uncommitted changes), or None."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def hardware() -> dict[str, Any]:
    """What ran this: enough to tell a CPU laptop from a GPU node in a table."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return info


@dataclass(frozen=True)
class RunDir:
    """A handle on one run directory."""

    path: Path

    @property
    def recipe_file(self) -> Path:
        return self.path / "recipe.resolved.yaml"

    @property
    def info_file(self) -> Path:
        return self.path / INFO_FILE

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def student_dir(self) -> Path:
        """The trained student, a plain Hugging Face folder (``harness eval --model`` takes it)."""
        return self.path / "student"

    @property
    def eval_dir(self) -> Path:
        return self.path / EVAL_DIR

    @property
    def scores_file(self) -> Path:
        """Every item's verdict in every setting (``eval/scores.parquet``)."""
        return self.eval_dir / "scores.parquet"

    @property
    def summary_file(self) -> Path:
        """Per-setting scores and efficiency (``eval/summary.json``)."""
        return self.eval_dir / "summary.json"

    def predictions_file(self, setting: str) -> Path:
        """What the model generated for each item of ``setting`` (``eval/<setting>/predictions.jsonl``)."""
        return self.eval_dir / setting / "predictions.jsonl"

    @property
    def is_evaluation(self) -> bool:
        """An evaluation folder of ``harness eval`` (``run.json`` kind ``eval``), not a training run."""
        return self.info().get("kind") == "eval"

    def info(self) -> dict[str, Any]:
        try:
            return json.loads(self.info_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    @property
    def status(self) -> str | None:
        return self.info().get("status")

    def update(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into run.json (atomically)."""
        info = self.info()
        info.update(fields)
        atomic_write_json(self.info_file, info)
        return info

    def log(self, record: dict[str, Any]) -> None:
        append_jsonl(self.metrics_file, record)

    def metrics(self) -> list[dict[str, Any]]:
        return read_jsonl(self.metrics_file)

    def finish(self, **fields: Any) -> None:
        self.update(status="finished", ended_at=_now(), **fields)

    def fail(self, error: str) -> None:
        self.update(status="failed", ended_at=_now(), error=error)

    def interrupt(self, reason: str = "interrupted") -> None:
        self.update(status="interrupted", ended_at=_now(), error=reason)


def run_path(root: str | os.PathLike, recipe_name: str, config_hash: str, seed: int) -> Path:
    """``<root>/runs/<recipe-name>/<config-hash8>-s<seed>``."""
    return Path(root) / "runs" / recipe_name / f"{config_hash[:8]}-s{seed}"


def check_legacy(root: str | os.PathLike, *, recipe_name: str, config_hash: str, legacy_hash: str | None,
                 seed: int) -> None:
    """Refuse, in one line, to start a run whose recipe and seed already ran under the first identity.

    Folders made before run identities covered the components' defaults were named by
    the hash of the recipe as written (``IDENTITY`` 1); such a run may predate a change of
    default, so it is neither reused nor silently duplicated: ``--force`` starts the run
    in its new folder and leaves the old one as it is.
    """
    if legacy_hash is None:
        return
    old = run_path(root, recipe_name, legacy_hash, seed)
    new = run_path(root, recipe_name, config_hash, seed)
    if old == new or new.exists() or not old.exists():
        return
    status = RunDir(old).status or "incomplete"
    raise HarnessError(
        f"{old}: this recipe and seed ran ({status}) before run folders were named by their configuration "
        f"hash; it is kept but not reused (its defaults may have changed since): --force starts it afresh in {new}"
    )


def evaluation_path(root: str | os.PathLike, model_name: str, identity_hash: str) -> Path:
    """``<root>/evals/<model-name>/<identity-hash8>``: where ``harness eval`` writes."""
    return Path(root) / "evals" / model_name / identity_hash[:8]


def run_lock(folder: str | os.PathLike) -> RunLock:
    """The lock of ``<root>/<runs|evals>/<name>/<folder>``: ``<root>/.locks/<runs|evals>/<name>/<folder>.lock``.

    Kept out of ``runs/`` and ``evals/`` so that a recipe's (or a model's) folder lists
    only its runs (evaluations).
    """
    folder = Path(folder)
    kind, name = folder.parent.parent, folder.parent
    return RunLock(folder, kind.parent / ".locks" / kind.name / name.name / f"{folder.name}.lock")


@dataclass(frozen=True)
class Opened:
    """The outcome of :func:`open_run` or :func:`open_evaluation`: the folder, whether it is new work, its lock.

    ``lock`` is held (for new or resumed work) until the caller releases it when
    the run ends; a process that dies releases it too.
    """

    run: RunDir
    existing: bool  # True: a finished run was found and nothing should be done
    resumed: bool = False
    lock: RunLock | None = None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def open_run(
    root: str | os.PathLike,
    *,
    recipe_name: str,
    config_hash: str,
    seed: int,
    resolved_yaml: str,
    force: bool = False,
    resume: bool = False,
    legacy_hash: str | None = None,
) -> Opened:
    """Create (or find) the run directory for a configuration and seed.

    - a finished run is returned as ``existing`` unless ``force``, which creates a
      new sibling ``<hash8>-s<seed>-2`` (then ``-3`` …) and never touches the old one;
    - ``resume`` reopens an unfinished run (running, interrupted or failed);
    - an unfinished run found without ``resume`` is an error that says how to resume
      or force, so nothing is overwritten by accident;
    - a run of the same recipe in a folder of the first identity (``legacy_hash``) is
      refused unless ``force`` (:func:`check_legacy`);
    - the folder is locked for the caller (``Opened.lock``): another process that
      opens it meanwhile (a second run, a ``--resume``, a racing start) gets a
      one-line error naming the holder.
    """
    if not force:
        check_legacy(root, recipe_name=recipe_name, config_hash=config_hash, legacy_hash=legacy_hash, seed=seed)

    def first_files(run: RunDir) -> None:
        atomic_write_text(run.recipe_file, resolved_yaml)
        atomic_write_json(run.info_file, _provenance(recipe_name=recipe_name, config_hash=config_hash,
                                                     identity=IDENTITY, seed=seed))

    return _open(run_path(root, recipe_name, config_hash, seed), what="run of this recipe and seed",
                 force=force, resume=resume, first_files=first_files)


def open_evaluation(folder: str | os.PathLike, *, fields: dict[str, Any], force: bool = False) -> Opened:
    """Create (or find) the folder of one ``harness eval`` (:func:`evaluation_path`), as :func:`open_run` does.

    ``fields`` (what was evaluated, how) join the provenance in its ``run.json``
    (``kind: eval``). An evaluation is not resumed: an unfinished one is refused
    unless ``force``, which starts a fresh ``-2`` sibling.
    """

    def first_files(run: RunDir) -> None:
        atomic_write_json(run.info_file, _provenance(kind="eval", **fields))

    return _open(Path(folder), what="evaluation with these settings", force=force, resume=None,
                 first_files=first_files)


def _provenance(**fields: Any) -> dict[str, Any]:
    """A new folder's run.json: running, ``fields``, and what ran it (commit, packages, hardware)."""
    return {"status": "running", **fields, "started_at": _now(), "ended_at": None, "git_commit": git_commit(),
            "packages": package_versions(), "hardware": hardware()}


def _open(base: Path, *, what: str, force: bool, resume: bool | None, first_files) -> Opened:
    """The one opening of a run or evaluation folder under its lock (``resume`` None: not resumable)."""
    lock = run_lock(base).acquire()  # a second writer, or a racing opener, is refused naming the holder
    try:
        return _open_locked(base, lock, what=what, force=force, resume=resume, first_files=first_files)
    except BaseException:
        lock.release()
        raise


def _open_locked(base: Path, lock: RunLock, *, what: str, force: bool, resume: bool | None, first_files) -> Opened:
    run = RunDir(base)
    if base.is_symlink() or run.info_file.is_symlink() or run.metrics_file.is_symlink():
        raise HarnessError(f"{base}: the run folder (or a file in it) is a symbolic link; the harness writes only real folders")
    if base.exists():
        status = run.status
        if status == "finished" and not force:
            lock.release()
            return Opened(run, existing=True)
        if status != "finished" and resume:
            run.update(status="running", resumed_at=_now(), error=None)
            return Opened(run, existing=False, resumed=True, lock=lock)
        if not force:
            how = "start a fresh copy with --force" if resume is None else \
                "continue it with --resume or start a fresh copy with --force"
            raise HarnessError(f"{base}: a previous {what} is {status or 'incomplete'}; {how}")
        n = 2
        while Path(f"{base}-{n}").exists() or Path(f"{base}-{n}").is_symlink():
            n += 1
        sibling = Path(f"{base}-{n}")
        sibling_lock = run_lock(sibling).acquire()
        lock.release()
        base, lock, run = sibling, sibling_lock, RunDir(sibling)
    elif resume:
        raise HarnessError(f"{base}: nothing to resume (no {what} yet)")
    try:
        base.mkdir(parents=True, exist_ok=False)
        first_files(run)
    except OSError as exc:  # a full or read-only disk: leave no folder without its provenance
        shutil.rmtree(base, ignore_errors=True)
        raise HarnessError(f"{base}: cannot write the run folder ({exc.strerror or exc})") from None
    return Opened(run, existing=False, lock=lock)
