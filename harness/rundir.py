"""The run-directory contract every stage writes into and every reader relies on.

``results/runs/<recipe-name>/<config-hash8>-s<seed>/`` holds

- ``recipe.resolved.yaml``: the recipe after ``extends:`` and ``--set`` with every default
  and component version filled in (running it again reproduces the run);
- ``run.json``: status (running | finished | failed | interrupted), start/end times, git
  commit, package versions, hardware, seed, configuration hash and identity version;
- ``metrics.jsonl``: one JSON object per logged step;
- later stages add predictions, scores, checkpoints and the trained student.

Every file is written atomically (temp file in the same folder + rename) so a
reader never sees half a file and a killed process leaves no partial results. A
finished run is never overwritten: starting it again is a no-op that says where
its results are, unless ``force`` asks for a fresh sibling directory.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.locks import RunLock

STATUSES = ("running", "finished", "failed", "interrupted")
IDENTITY = 2  # how run folders are named (harness.recipe.identity); 1: the hash of the recipe as written
TRACKED_PACKAGES = ("drivekd-harness", "torch", "transformers", "accelerate", "optuna", "numpy", "pandas")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    The file gets the permissions an ordinary ``open`` would give (0666 less the
    umask), not mkstemp's private 0600, so collaborators can read shared results.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextmanager
def atomic_folder(final: str | os.PathLike, *, replace: bool = True):
    """Yield a temporary sibling folder; on success it is renamed to ``final``.

    Readers see either the old folder or the complete new one, never half of it;
    on an error the temporary folder is removed. With ``replace=False`` an
    existing ``final`` (built meanwhile by another process) is kept and the new
    copy dropped.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        tmp.chmod(0o777 & ~_umask())  # as mkdir would, not mkdtemp's private 0700
        yield tmp
        if final.exists():
            if not replace:
                shutil.rmtree(tmp, ignore_errors=True)
                return
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def append_jsonl(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one JSON line with a single write, so concurrent readers see whole lines."""
    line = json.dumps(record, sort_keys=True, default=_json_default) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete lines of a JSONL file (a torn last line from a crash is ignored)."""
    out = []
    path = Path(path)
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _json_default(obj: Any) -> Any:
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    return str(obj)


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
        return self.path / "run.json"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

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


def run_lock(folder: str | os.PathLike) -> RunLock:
    """The lock of run folder ``<root>/runs/<name>/<folder>``: ``<root>/.locks/<name>/<folder>.lock``.

    Kept out of ``runs/`` so that a recipe's folder lists only its runs.
    """
    folder = Path(folder)
    return RunLock(folder, folder.parent.parent.parent / ".locks" / folder.parent.name / f"{folder.name}.lock")


@dataclass(frozen=True)
class Opened:
    """The outcome of :func:`open_run`: the directory, whether it is new work, and its lock.

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
    base = run_path(root, recipe_name, config_hash, seed)
    lock = run_lock(base).acquire()  # a second writer, or a racing opener, is refused naming the holder
    try:
        return _open_locked(base, lock, recipe_name=recipe_name, config_hash=config_hash, seed=seed,
                            resolved_yaml=resolved_yaml, force=force, resume=resume)
    except BaseException:
        lock.release()
        raise


def _open_locked(base: Path, lock: RunLock, *, recipe_name: str, config_hash: str, seed: int,
                 resolved_yaml: str, force: bool, resume: bool) -> Opened:
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
            raise HarnessError(
                f"{base}: a previous run of this recipe and seed is {status or 'incomplete'}; "
                "continue it with --resume or start a fresh copy with --force"
            )
        n = 2
        while Path(f"{base}-{n}").exists() or Path(f"{base}-{n}").is_symlink():
            n += 1
        sibling = Path(f"{base}-{n}")
        sibling_lock = run_lock(sibling).acquire()
        lock.release()
        base, lock, run = sibling, sibling_lock, RunDir(sibling)
    elif resume:
        raise HarnessError(f"{base}: nothing to resume (no run of this recipe and seed yet)")
    info = {
        "status": "running",
        "recipe_name": recipe_name,
        "config_hash": config_hash,
        "identity": IDENTITY,
        "seed": seed,
        "started_at": _now(),
        "ended_at": None,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "hardware": hardware(),
    }
    try:
        base.mkdir(parents=True, exist_ok=False)
        atomic_write_text(run.recipe_file, resolved_yaml)
        atomic_write_json(run.info_file, info)
    except OSError as exc:  # a full or read-only disk: leave no folder without its provenance
        shutil.rmtree(base, ignore_errors=True)
        raise HarnessError(f"{base}: cannot write the run folder ({exc.strerror or exc})") from None
    return Opened(run, existing=False, lock=lock)
