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
    assert by[("teacher", "first")]["lift"]["mean"] > 0.3 and by[("teacher", "first")]["lift"]["p_adjusted"] < 0.05
    assert "mse" not in by[("teacher", "first")]  # the teacher is not compared with itself
    assert by[("copy", "first")]["mse"]["mean"] == 0.0 and by[("copy", "first")]["corr"]["mean"] == pytest.approx(1.0)
    assert by[("sft", "first")]["corr"]["mean"] is None  # a constant map has no correlation
    # Holm over the six lifts: adjusted p never below the raw one
    assert all(r["lift"]["p_adjusted"] >= r["lift"]["p_value"] for r in rows)
    text = render_mechanism_markdown(rows)
    assert text.splitlines()[0].startswith("| system") and text.count("\n") == 2 + len(rows)
