"""The mechanism table arranges the mechanism metrics per system and layer."""

import numpy as np
import pytest

from harness.eval.mechanism import ItemMaps, box_cells
from harness.report.mechanism import mechanism_rows, render_mechanism_markdown


def _maps(block_of, n=8):
    on = box_cells((0.30, 0.55, 0.55, 0.80), (4, 4))
    return [ItemMaps(f"i{i}", f"f{i // 2}", {"first": block_of(on, i), "penultimate": block_of(on, i)},
                     {"first": 0, "penultimate": 2}, on, (1, 2, i)) for i in range(n)]


def _peaked(on, i):
    block = np.full((3, 16), 0.01)
    block[:, on] = 0.04 + 0.001 * i
    return block


def test_rows_hold_localisation_and_agreement_with_the_teacher():
    teacher = _maps(_peaked)
    flat = _maps(lambda on, i: np.full((3, 16), 0.02))
    rows = mechanism_rows({"teacher": teacher, "sft": flat, "copy": _maps(_peaked)}, teacher, n_resamples=500)
    assert [(r["system"], r["layer"]) for r in rows] == [
        (s, layer) for s in ("teacher", "sft", "copy") for layer in ("first", "penultimate")]
    by = {(r["system"], r["layer"]): r for r in rows}
    assert by[("sft", "first")]["lift"]["mean"] == pytest.approx(0.0, abs=1e-12)
    # uniform attention's share equals its prior up to rounding: no difference, not a significant one
    assert by[("sft", "first")]["lift"]["p_value"] == 1.0
    assert by[("teacher", "first")]["lift"]["mean"] > 0.3 and by[("teacher", "first")]["lift"]["p_adjusted"] < 0.05
    assert "mse" not in by[("teacher", "first")]  # the teacher is not compared with itself
    assert by[("copy", "first")]["mse"]["mean"] == 0.0 and by[("copy", "first")]["corr"]["mean"] == pytest.approx(1.0)
    assert by[("sft", "first")]["corr"]["mean"] is None  # a constant map has no correlation
    # Holm over the six lifts: adjusted p never below the raw one
    assert all(r["lift"]["p_adjusted"] >= r["lift"]["p_value"] for r in rows)
    text = render_mechanism_markdown(rows)
    assert text.splitlines()[0].startswith("| system") and text.count("\n") == 2 + len(rows)


def test_mechanism_findings_are_one_entry_per_tested_lift_in_the_findings_shape():
    from harness.report.findings import write_findings
    from harness.report.mechanism import mechanism_findings

    def noisy(on, i):  # attention that ignores the object: noise around uniform, object-blind
        return np.random.default_rng(i).uniform(0.01, 0.03, (3, 16))

    teacher = _maps(_peaked, n=24)
    rows = mechanism_rows({"teacher": teacher, "sft": _maps(noisy, n=24)}, teacher, n_resamples=2000)
    for r in rows:
        r["family"] = "internvl3"
    entries = mechanism_findings(rows)
    assert len(entries) == len(rows) == 4
    by = {(e["treatment"], e["metric"]): e for e in entries}
    looks = by[("teacher", "object_share@first")]
    assert looks["significant"] and looks["difference"] > 0.3 and looks["p_adjusted"] >= looks["p_value"]
    assert looks["value"] - looks["baseline_value"] == pytest.approx(looks["difference"])
    assert not by[("sft", "object_share@first")]["significant"]
    assert looks["direction"] == 1 and by[("sft", "object_share@first")]["direction"] == 0  # as the tables' cells
    assert {e["n_comparisons_in_table"] for e in entries} == {4} and {e["family"] for e in entries} == {"internvl3"}


def test_findings_json_appends_the_extra_entries_after_the_tables(tmp_path):
    import json

    from harness.report.findings import write_findings

    path = write_findings(tmp_path / "findings.json", [], extra=[{"table": "mechanism"}], study="s")
    data = json.loads(path.read_text())
    assert data["study"] == "s" and data["findings"] == [{"table": "mechanism"}]


def test_the_teacher_alone_is_measured_at_its_other_layers_and_corrected_with_the_rest():
    def with_layer_2(maps):
        for m in maps:
            m.blocks["2"] = m.blocks["first"]
        return maps

    teacher = with_layer_2(_maps(_peaked))
    student = _maps(_peaked)  # captured at the named layers only
    rows = mechanism_rows({"teacher": teacher, "copy": student}, teacher, teacher_layers=("first", "2"),
                          n_resamples=500)
    assert [(r["system"], r["layer"]) for r in rows] == [
        ("teacher", "first"), ("teacher", "penultimate"), ("teacher", "2"), ("copy", "first"), ("copy", "penultimate")]
    extra = rows[2]
    assert "mse" not in extra and extra["lift"]["mean"] > 0.3
    plain = mechanism_rows({"teacher": teacher, "copy": student}, teacher, n_resamples=500)
    # one more lift in the Holm family: no adjusted p is smaller than without it
    assert all(a["lift"]["p_adjusted"] >= b["lift"]["p_adjusted"] - 1e-12
               for a, b in zip([r for r in rows if r["layer"] != "2"], plain))
