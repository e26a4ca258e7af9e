"""drivekd-harness: reproduce and extend Drive-KD.

The Python API mirrors the CLI so notebooks need no subprocess: see
:mod:`harness.api` (``harness.run``, ``harness.validate``, ``harness.ls``,
``harness.run_sweep``, ``harness.write_report`` …). The verbs are named apart from
the packages (``harness.sweep``, ``harness.report``), as Optuna's
``optuna.create_study`` is from ``optuna.study``: importing a package binds its
name on ``harness``, which would hide a function of the same name.
Heavy modules (torch, transformers) are imported only when used.
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = {"run", "validate", "ls", "load_recipe", "evaluate", "run_sweep", "write_report", "build_zoo", "synth"}


def __getattr__(name: str):
    if name in _API:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
