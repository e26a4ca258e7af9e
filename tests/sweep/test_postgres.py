"""A two-worker sweep against a real PostgreSQL server (issue: many machines share an RDB).

Outside CI the test skips when PostgreSQL or its driver is absent; with CI=true
(.ci/run installs both) it must run.
"""

import os
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from tests.sweep.postgres import pg_bin, throwaway_postgres

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")]

IN_CI = os.environ.get("CI") == "true"


def _available() -> str | None:
    if pg_bin() is None:
        return "PostgreSQL (Debian package postgresql) is not installed"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "the psycopg2 driver is not installed"
    return None


def test_two_workers_share_a_postgres_study(env, write_ablation):
    missing = _available()
    if missing:
        if IN_CI:
            pytest.fail(f"{missing}; .ci/run must install it")
        pytest.skip(missing)
    path = write_ablation(name="pg", lrs="[1.0e-4, 5.0e-4, 1.0e-3]")
    results = env / "results"
    with throwaway_postgres() as url:
        cmd = [sys.executable, "-m", "harness.cli", "sweep", str(path), "--results", str(results),
               "--storage", url, "--workers", "2"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=540)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        study = optuna.load_study(study_name="pg", storage=url)
        done = study.get_trials(states=(TrialState.COMPLETE,))
        keys = {(t.user_attrs.get("harness.variant"), str(sorted(t.params.items())), t.user_attrs["harness.seed"]) for t in done}
        assert len(done) == 4 and len(keys) == 4
        assert not study.get_trials(states=(TrialState.FAIL, TrialState.WAITING, TrialState.RUNNING))
