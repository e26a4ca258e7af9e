"""A sweep called from Python prints nothing and leaves the process's logging and Optuna's verbosity alone."""

import logging
import sys
import warnings

import optuna
import pytest

from harness.sweep.study import sweep

pytestmark = pytest.mark.slow


def test_an_inline_sweep_prints_nothing_and_changes_no_global_setting(env, write_ablation, capsys, caplog):
    path = write_ablation(name="library_quiet", lrs="[5.0e-4]")
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    stdout, filters = sys.stdout, list(warnings.filters)
    try:
        with caplog.at_level(logging.INFO, logger="harness"):
            result = sweep(path, results_root=env / "results", inline_trials=True)  # not quiet: it logs
        assert result.counts == {"complete": 2}
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert sys.stdout is stdout and list(warnings.filters) == filters
    assert capsys.readouterr().out == ""
    assert "[library_quiet] storage" in caplog.text  # the progress lines are log records
    logs = sorted((env / "results" / "sweeps" / "library_quiet" / "logs").glob("trial-*.log"))
    texts = [p.read_text() for p in logs]
    assert len(texts) == 2 and all(t.startswith("$ (inline) harness run") and "status" in t for t in texts)
    assert "status" not in caplog.text  # a trial's own lines went to its log, not the worker's handlers
