"""Where a study lives, and how several processes agree on one study's trials.

``--storage`` accepts

- nothing: ``sqlite:///<results>/sweeps/<study>.db`` (one machine, a few workers);
- any SQLAlchemy URL Optuna's RDBStorage takes (``postgresql://…``, ``mysql+pymysql://…``,
  ``sqlite:///…``) for many machines; heartbeats are Optuna's own;
- ``journal:PATH`` (or a path ending in ``.journal``/``.log``): Optuna's JournalStorage
  over a file on a shared filesystem; it has no native heartbeats, so the harness
  keeps its own (see :mod:`.heartbeat`).

No duplicate trials: the process that *creates* the study enqueues the whole plan
once (Optuna's create-if-absent is atomic in every storage), then marks the study
``harness.planned``; every other process waits for that mark and only claims
enqueued trials, which Optuna hands out atomically.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.sweep.ablation import Ablation, PlannedTrial
from harness.sweep.optuna_parts import build_pruner, build_sampler

PLANNED = "harness.planned"
FINGERPRINT = "harness.fingerprint"
JOURNAL_SUFFIXES = (".journal", ".log")


def default_storage(results_root: Path, study: str) -> str:
    path = (Path(results_root) / "sweeps" / f"{study}.db").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def journal_path(url: str) -> Path | None:
    """The journal file a storage argument names, or None for a database URL."""
    if url.startswith("journal:"):
        return Path(url[len("journal:"):]).expanduser()
    if "://" not in url and url.endswith(JOURNAL_SUFFIXES):
        return Path(url).expanduser()
    return None


def normalise_url(url: str) -> str:
    """Bare ``.db``/``.sqlite`` paths become SQLite URLs; anything else is left alone."""
    if "://" not in url and not url.startswith("journal:") and url.endswith((".db", ".sqlite", ".sqlite3")):
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def open_storage(url: str, retry) -> Any:
    """An Optuna storage for ``url`` with heartbeats and retry of dead workers' trials."""
    import optuna
    import sqlalchemy.exc
    from optuna.storages import RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    from harness.sweep.heartbeat import retry_callback

    journal = journal_path(url)
    if journal is not None:
        journal.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(journal)))
    url = normalise_url(url)
    if "://" not in url:
        raise HarnessError(f"--storage '{url}': not a database URL (sqlite:///…, postgresql://…, mysql://…) "
                           "nor a journal file (journal:PATH)")
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    last: Exception | None = None
    for attempt in range(5):
        # Several processes opening a brand-new database at once race to create its tables;
        # the losers fail once and succeed on the next attempt, when the tables exist.
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=retry.heartbeat_interval,
                    grace_period=retry.grace_period,
                    heartbeat_stale_trial_callback=retry_callback(retry.max_retry),
                )
        except ModuleNotFoundError as exc:
            raise HarnessError(f"--storage '{_redact(url)}': the database driver '{exc.name}' is not installed") from None
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as exc:  # the race, or a busy server
            last = exc
            time.sleep(0.2 + random.random() * (attempt + 1))
        except Exception as exc:  # sqlalchemy raises many types for a bad URL or a missing driver
            last = exc
            break
    first = str(last).strip().splitlines()[0] if str(last).strip() else type(last).__name__
    raise HarnessError(f"--storage '{_redact(url)}': cannot open it ({first})")


def _redact(url: str) -> str:
    """A URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def enqueue(study, planned: list[PlannedTrial]) -> None:
    for item in planned:
        study.enqueue_trial(dict(item.params), user_attrs=item.user_attrs())


def open_study(ablation: Ablation, storage, *, study_name: str, n_trials: int | None,
               worker: str | None = None, wait_s: float = 120.0, enqueue_plan: bool = True):
    """Create the study and enqueue its plan, or join an existing one (checking it matches)."""
    import optuna

    spec = ablation.spec
    sampler = build_sampler(spec.sampler.name, spec.sampler.options, worker=worker)
    pruner = build_pruner(spec.pruner.name, spec.pruner.options)
    plan = ablation.plan(n_trials)
    try:
        study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction=spec.objective.direction, load_if_exists=False)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
        created = False
    if created:
        study.set_user_attr(FINGERPRINT, ablation.fingerprint())
        study.set_user_attr("harness.ablation", str(ablation.path))
        enqueue(study, plan)
        study.set_user_attr(PLANNED, len(plan))
        return study
    attrs = _wait_for_plan(study, study_name, wait_s)
    if attrs.get(FINGERPRINT) != ablation.fingerprint():
        raise HarnessError(
            f"study '{study_name}' in this storage was made from a different version of {ablation.path} "
            f"(variants, space, seeds, objective or base recipe changed); pass --study-name NEW, or delete it "
            f"with `optuna delete-study --study-name {study_name} --storage URL`")
    if study.direction.name.lower() != spec.objective.direction:
        raise HarnessError(f"study '{study_name}' optimises {study.direction.name.lower()}, the file says {spec.objective.direction}")
    planned = int(attrs[PLANNED])
    if enqueue_plan and n_trials is not None and len(plan) > planned:
        # Growing a study (an explicit --n-trials larger than before): the new tail of the same plan.
        # A process that merely joins (no --n-trials) never changes what the creator planned.
        enqueue(study, plan[planned:])
        study.set_user_attr(PLANNED, len(plan))
    return study


def _wait_for_plan(study, study_name: str, wait_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while True:
        attrs = study.user_attrs
        if PLANNED in attrs:
            return attrs
        if time.monotonic() > deadline:
            raise HarnessError(
                f"study '{study_name}' exists but its creator never finished enqueuing trials "
                f"(it may have died); delete it with `optuna delete-study --study-name {study_name} --storage URL`")
        time.sleep(0.5)
