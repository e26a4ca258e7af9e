"""Ablation studies: ablation files → Optuna studies whose trials are ordinary runs.

- :mod:`.ablation`: the file schema, ``load_ablation`` and the plan of trials;
- :mod:`.space`, :mod:`.overrides`: search-space entries and variant overrides;
- :mod:`.storage`: storage URLs and creating / joining a study without duplicates;
- :mod:`.worker`, :mod:`.execute`, :mod:`.heartbeat`: claiming, running (one child
  process per trial), pruning, heartbeats and retries;
- :mod:`.study`: ``sweep()`` (what ``harness sweep`` calls, and the Python API's
  ``harness.run_sweep``), progress, ``--rerun-top``.

Nothing here registers components; docs/sweeps.md is the user's guide.
"""
