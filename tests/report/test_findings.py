"""findings.json holds every tested comparison of the report's tables, as the tables state them."""

import json
import math

import pytest

from harness.report.api import build_settings_table, report
from harness.report.collect import collect
from harness.report.findings import findings, write_findings
from harness.report.spec import StatsOptions, TableSpec
from harness.report.tables import build_table
from tests.report.fakes import base_scores, write_run

FAST = StatsOptions(n_resamples=1000)


def _families(tmp_path, items):
    base = base_scores(items)
    for trial, (family, variant, shift) in enumerate((f, v, d) for f in ("internvl3", "qwen2_5_vl")
                                                     for v, d in (("sft", 0.0), ("kd", 12.0))):
        write_run(tmp_path, f"{family}_{variant}", base + shift, items, study="demo", variant=variant, trial=trial,
                  student={"family": family, "zoo": "student"},
                  settings={"clean": base + shift, "text_only": base + shift - 20.0})
    return collect(tmp_path)


def test_findings_read_back_equal_the_tables(tmp_path, items):
    collected = _families(tmp_path / "runs", items)
    methods = build_table(collected, TableSpec(name="methods", baseline="sft", columns=("student.family",),
                                               metrics=("avg", "mcq_acc_strict")), options=FAST)
    grounding = build_settings_table(collected, columns=("student.family", "method"), baseline="text_only",
                                     metrics=("avg",), name="grounding", options=FAST)
    path = write_findings(tmp_path / "findings.json", [methods, grounding], study="demo")
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["study"] == "demo"
    entries = data["findings"]
    assert len(entries) == methods.n_comparisons + grounding.n_comparisons == 2 * 2 + 4
    for entry in entries:
        table = methods if entry["table"] == "methods" else grounding
        cell = table.cell(entry["treatment"], entry["group"], entry["metric"])
        assert entry["difference"] == pytest.approx(cell.diff)
        assert (entry["ci_low"], entry["ci_high"]) == pytest.approx((cell.diff_low, cell.diff_high))
        assert entry["p_adjusted"] == pytest.approx(cell.p_adjusted) and entry["significant"] == cell.significant
        assert entry["baseline"] == table.baseline and entry["unit"] == table.unit == "frame_token"
        assert entry["n_items"] == cell.n_items and entry["n_units"] == table.n_clusters
        assert entry["value"] == pytest.approx(cell.value)
        assert entry["baseline_value"] == pytest.approx(table.cell(table.baseline, entry["group"], entry["metric"]).value)
        assert entry["family"] in ("internvl3", "qwen2_5_vl") and entry["family"] in entry["group"]
    kd = [e for e in entries if e["table"] == "methods" and e["metric"] == "avg"]
    assert {e["family"] for e in kd} == {"internvl3", "qwen2_5_vl"}
    assert all(e["treatment"] == "kd" and e["significant"] and e["difference"] == pytest.approx(12.0) for e in kd)
    clean = [e for e in entries if e["table"] == "grounding"]
    assert all(e["treatment"] == "clean" and e["difference"] == pytest.approx(20.0) for e in clean)
    assert findings([]) == []


def test_harness_report_writes_findings_next_to_the_table(tmp_path, items):
    _families(tmp_path / "runs", items)
    written = report(tmp_path / "runs", baseline="sft", out=tmp_path / "out", figures=False,
                     table={"columns": ("student.family",)}, options=FAST)
    assert written["findings"] == tmp_path / "out" / "findings.json"
    entries = json.loads(written["findings"].read_text())["findings"]
    assert entries and all(math.isfinite(e["p_adjusted"]) and e["treatment"] == "kd" for e in entries)


@pytest.fixture
def items():
    from tests.report.fakes import item_table

    return item_table(30)
