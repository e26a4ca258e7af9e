"""Each objective's gradient norm as a share of CE's, per run, from metrics.jsonl."""

import numpy as np
import pytest

from harness.report.api import report
from harness.report.collect import collect
from harness.report.gradients import gradient_share_rows, render_gradient_shares_markdown, summarise_shares
from tests.report.fakes import base_scores, item_table, write_run


def _record(step, ce, perception, planning=None):
    norms = {"ce": ce, "perception": perception}
    if planning is not None:
        norms["planning"] = planning
    return {"step": step, "loss": {}, "combine": {"weights": {}, "grad_norms": norms}}


def test_shares_are_each_norm_over_ces_summarised_over_steps():
    records = [_record(1, 2.0, 0.02, 1.0), _record(2, 4.0, 0.2, None), {"step": 3, "loss": {}},
               _record(4, 0.0, 1.0), {"step": 5, "combine": {"weights": {}, "grad_norms": {"ce": None, "x": 1.0}}}]
    shares = summarise_shares(records)
    assert shares["perception"] == {"median": pytest.approx(0.03), "min": 0.01, "max": 0.05, "n": 2}
    assert shares["planning"] == {"median": 0.5, "min": 0.5, "max": 0.5, "n": 1}
    assert "ce" not in shares and "x" not in shares  # steps without a usable CE norm are left out


def test_report_writes_each_runs_shares(tmp_path):
    items = item_table(10)
    scores = base_scores(items)
    write_run(tmp_path, "kd", scores, items, variant="kd",
              metrics=[_record(1, 1.0, 0.01), _record(2, 1.0, 0.03)])
    write_run(tmp_path, "sft", scores, items, variant="sft", metrics=[{"step": 1, "loss": {"ce": 1.0}}])
    rows = gradient_share_rows(collect(tmp_path))
    assert [r["system"] for r in rows] == ["kd"]  # a run without norms has no row
    assert rows[0]["shares"]["perception"]["median"] == pytest.approx(0.02)
    text = render_gradient_shares_markdown(rows)
    assert "| kd" in text and "0.02 [0.01, 0.03]" in text
    written = report(tmp_path, out=tmp_path / "out", figures=False)
    assert written["gradient_shares"].read_text() == text
    assert np.isfinite(rows[0]["shares"]["perception"]["max"])
