"""One model's scores in several evaluation settings, side by side: runs → (run, setting) pseudo-runs.

Why a reshaping and not a new table builder: a table elsewhere in this package
shows one setting and never mixes settings in a column, because systems scored
under different conditions are not comparable. Comparing the *same* models across
settings (clean vs text_only shows whether a model looks at the images; clean vs
fog, how robust it is) is the one case where putting settings side by side is the
point. Turning every (run, setting) pair into its own pseudo-run, whose run.json
gains a ``setting`` field, lets the ordinary :func:`~harness.report.tables.build_table`
draw it with ``rows: setting``: its rows are then settings, its tests pair the
items (ids ``<scene>:<template>`` are the same in every setting) and its
correction covers every comparison, exactly as for any other table.
"""

from __future__ import annotations

import copy
from typing import Sequence

import pandas as pd

from harness.report.collect import Collected, ReportInputError

# The one "setting" every pseudo-run's items carry, so a table built from them sees one.
BY_SETTING = "by setting"
# Settings that lead the default order: the reference condition, then its image-free control.
LEADING_SETTINGS = ("clean", "text_only")


def settings_present(collected: Collected) -> list[str]:
    """The settings the runs were scored in: clean first, then text_only, then the rest sorted."""
    present = set(collected.items["setting"].dropna().astype(str)) if "setting" in collected.items else set()
    return [s for s in LEADING_SETTINGS if s in present] + sorted(present - set(LEADING_SETTINGS))


def pseudo_run_id(run_id: str, setting: str) -> str:
    return f"{run_id}@{setting}"


def by_setting(collected: Collected, settings: Sequence[str] | None = None) -> Collected:
    """A new Collected with one pseudo-run per (run, requested setting); the input is left as it was.

    A pseudo-run's id is ``<run_id>@<setting>``; its items are the run's items in that
    setting with the ``setting`` column set to :data:`BY_SETTING`; its run.json is the
    run's plus ``"setting": <setting>`` (so ``rows: setting`` finds it); its recipe is
    the run's; its row of ``runs`` is the run's (efficiency numbers included) with the
    new id and a ``setting`` column. Pseudo-runs are ordered setting by setting, in
    the requested order, so a table's rows follow it.

    A requested setting no run has, or a run that lacks one of them, is a
    ReportInputError naming the setting (and the run).
    """
    present = settings_present(collected)
    wanted = list(dict.fromkeys(settings)) if settings is not None else present
    if not wanted:
        raise ReportInputError("no settings to tabulate: the runs have no scores in any setting")
    for setting in wanted:
        if setting not in present:
            raise ReportInputError(f"setting {setting!r} is not among the runs' settings: "
                                   f"{', '.join(present) or 'none'}")
    items = collected.items
    run_ids = [str(r) for r in collected.runs["run_id"]] if not collected.runs.empty else []
    have = items.groupby(items["run_id"].astype(str))["setting"].agg(lambda s: set(s.dropna().astype(str)))
    for run_id in run_ids:
        lacking = [s for s in wanted if s not in have.get(run_id, set())]
        if lacking:
            raise ReportInputError(f"run {run_id} has no scores in setting {lacking[0]!r} (it has: "
                                   f"{', '.join(sorted(have.get(run_id, set()))) or 'none'}); "
                                   "a settings table compares the same runs in every setting")
    item_frames, run_rows, infos, recipes = [], [], {}, {}
    runs_by_id = collected.runs.set_index(collected.runs["run_id"].astype(str)) if run_ids else None
    for setting in wanted:
        in_setting = items[items["setting"].astype(str) == setting]
        for run_id in run_ids:
            new_id = pseudo_run_id(run_id, setting)
            frame = in_setting[in_setting["run_id"].astype(str) == run_id].copy()
            frame["run_id"] = new_id
            frame["setting"] = BY_SETTING
            item_frames.append(frame)
            row = runs_by_id.loc[run_id].to_dict()
            row.update(run_id=new_id, setting=setting)
            run_rows.append(row)
            infos[new_id] = {**copy.deepcopy(collected.infos.get(run_id, {})), "setting": setting}
            recipes[new_id] = copy.deepcopy(collected.recipes.get(run_id, {}))
    new_items = pd.concat(item_frames, ignore_index=True) if item_frames else items.iloc[0:0].copy()
    columns = [*(c for c in collected.runs.columns if c != "setting"), "setting"]
    new_runs = pd.DataFrame(run_rows, columns=columns) if run_rows else collected.runs.copy()
    return Collected(items=new_items, runs=new_runs, recipes=recipes, infos=infos, skipped=list(collected.skipped))
