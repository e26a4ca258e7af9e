"""`harness sweep FILE --dashboard`: optuna-dashboard on the study's own storage.

The study's trials, their parameters, objective values and states are already in
its Optuna storage (whichever kind: the default SQLite file, a database URL or a
journal file), so the dashboard needs nothing from the harness but where that
storage is; the same rule as ``harness sweep`` finds it. optuna-dashboard is an
optional extra; it serves on loopback unless told otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness.errors import HarnessError
from harness.sweep.ablation import load_ablation
from harness.sweep.storage import open_storage
from harness.sweep.study import study_location


def serve_dashboard(
    ablation_file: str | Path,
    *,
    storage: str | None = None,
    results_root: str | Path | None = None,
    study_name: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] = lambda _line: None,
) -> None:
    """Serve optuna-dashboard for the ablation's study until interrupted (Ctrl-C)."""
    try:
        import optuna_dashboard
    except ModuleNotFoundError:
        raise HarnessError("--dashboard needs optuna-dashboard: pip install optuna-dashboard "
                           "(or pip install 'drivekd-harness[dashboard]')") from None
    ablation = load_ablation(ablation_file)
    name, _root, url = study_location(ablation, storage=storage, results_root=results_root, study_name=study_name)
    store = open_storage(url, ablation.spec.retry)
    on_ready(f"[{name}] optuna-dashboard on {url}: http://{host}:{port}/dashboard (Ctrl-C stops it)")
    optuna_dashboard.run_server(store, host=host, port=port)
