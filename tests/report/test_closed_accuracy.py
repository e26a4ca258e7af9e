"""Closed-question accuracy, parsed and ranked by option likelihood, as table columns."""

import numpy as np
import pytest

from harness.report.collect import collect
from harness.report.render import render_markdown
from harness.report.spec import StatsOptions, TableSpec
from harness.report.tables import build_table
from tests.report.fakes import base_scores, write_run

FAST = StatsOptions(n_resamples=1000)
METRICS = ("closed_acc_parsed", "closed_acc_ranked", "mcq_acc_strict")


def test_parsed_and_ranked_accuracy_are_separate_columns_over_every_closed_item(tmp_path, items):
    closed = (items["kind"] != "open").to_numpy()
    base = base_scores(items)
    parsed = np.zeros(len(items))  # the parser reads nothing right …
    ranked = np.ones(len(items))  # … while the most likely option is always the right one
    write_run(tmp_path, "sft", base, items, variant="sft", correct=parsed, ranked=np.zeros(len(items)))
    write_run(tmp_path, "kd", base, items, variant="kd", correct=parsed, ranked=ranked)
    table = build_table(collect(tmp_path), TableSpec(name="t", baseline="sft", metrics=METRICS), options=FAST)
    kd = {m: table.cell("kd", "", m) for m in METRICS}
    assert kd["closed_acc_parsed"].value == 0.0 and kd["closed_acc_ranked"].value == 1.0
    assert kd["closed_acc_ranked"].n_items == int(closed.sum())
    assert kd["closed_acc_ranked"].diff == 1.0 and kd["closed_acc_ranked"].significant
    assert not kd["closed_acc_parsed"].significant
    text = render_markdown(table)
    assert "Closed acc. (parsed)" in text and "Closed acc. (ranked)" in text
    assert "ranked" in table.caption and "most likely" in table.caption


def test_runs_evaluated_before_ranking_read_as_not_ranked_not_as_wrong(tmp_path, items):
    base = base_scores(items)
    write_run(tmp_path, "old", base, items, variant="old")
    table = build_table(collect(tmp_path), TableSpec(name="t", metrics=METRICS), options=FAST)
    cell = table.cell("old", "", "closed_acc_ranked")
    assert np.isnan(cell.value) and cell.n_missing == cell.n_items
    assert table.cell("old", "", "closed_acc_parsed").value == pytest.approx(
        float((base[(items["kind"] != "open").to_numpy()] > 50).mean()))


@pytest.fixture
def items():
    from tests.report.fakes import item_table

    return item_table(40)
