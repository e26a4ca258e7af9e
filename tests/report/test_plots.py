"""Figures are written as PNG and PDF from tables, metrics.jsonl and trial results."""

import numpy as np

from harness.report import plots
from harness.report.collect import collect
from harness.report.spec import StatsOptions, TableSpec, read_ablation
from harness.report.tables import build_table

COSINE = {"ce": {"ce": 1.0, "planning": -0.25, "perception": None},
          "planning": {"ce": -0.25, "planning": 1.0, "perception": 0.5},
          "perception": {"ce": None, "planning": 0.5, "perception": 1.0}}


def test_conflict_series_reads_pairs_and_skips_undefined():
    records = [{"step": 1, "combine": {"cosine": COSINE}}, {"step": 2, "loss": {}},
               {"step": 3, "combine": {"weights": {"ce": 1.0}}}, {"step": 4, "combine": {"cosine": COSINE}}]
    series = plots.conflict_series(records)
    assert set(series) == {"ce·planning", "planning·perception"}
    assert series["ce·planning"] == ([1, 4], [-0.25, -0.25])


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _is_pdf(path):
    return path.read_bytes()[:5] == b"%PDF-"


def test_every_figure_is_written_as_png_and_pdf(study, tmp_path):
    from harness.files import append_jsonl

    ablation, results = study
    collected = collect(results, study="table3_combiners")
    append_jsonl(collected.runs["run_path"][0] + "/metrics.jsonl", {"step": 1, "combine": {"cosine": COSINE}})
    table = build_table(collected, read_ablation(ablation).table, options=StatsOptions(n_resamples=200))
    made = (plots.plot_capabilities(table, tmp_path / "cap") + plots.plot_conflicts(collected, tmp_path / "conf")
            + plots.plot_objective_history(collected, tmp_path / "hist", metric="eval.avg"))
    assert [p.suffix for p in made] == [".png", ".pdf"] * 3
    assert all(_is_png(p) for p in made if p.suffix == ".png") and all(_is_pdf(p) for p in made if p.suffix == ".pdf")


def test_objective_history_is_in_trial_order(study):
    _, results = study
    points = plots.objective_history(collect(results), "eval.avg")
    assert [t for t, _ in points] == [0, 1, 2, 3]
    assert points[2][1] > points[0][1] > points[3][1]  # agp above sum above worse


def test_no_cosines_means_no_conflict_figure(study, tmp_path):
    _, results = study
    assert plots.plot_conflicts(collect(results), tmp_path / "conf") == []


def _size(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def _colours(path):
    """Distinct saturated colours in a PNG (bars and markers; greys and white left out)."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    saturated = pixels[(pixels.max(axis=1) - pixels.min(axis=1)) > 60]
    return {tuple(p) for p in saturated}


def _family_study(tmp_path, n_rows=7):
    """Two families × seven methods, as the demo's Table 3."""
    from tests.report.fakes import base_scores, item_table, write_run

    items = item_table(30)
    base = base_scores(items)
    rng = np.random.default_rng(5)
    for family in ("internvl3", "qwen2_5_vl"):
        for i in range(n_rows):
            write_run(tmp_path, f"{family}_m{i}", np.clip(base + 3 * i + rng.normal(0, 4, len(items)), 0, 100),
                      items, variant=f"m{i}", study="s", student={"family": family, "zoo": "student", "scale": None})
    spec = TableSpec(name="t3", kind="table3", rows="variant", columns=("student.family",), baseline="m0")
    return build_table(collect(tmp_path), spec, options=StatsOptions(n_resamples=2000))


def test_capability_plot_has_a_panel_per_family_a_readable_size_and_no_repeated_colour(tmp_path):
    table = _family_study(tmp_path / "runs")
    png = plots.plot_capabilities(table, tmp_path / "cap")[0]
    width, height = _size(png)
    assert width <= 1500 and height <= 1500, (width, height)  # was 5040 × 600 for the demo's table
    fig_rows = table.rows
    assert len(fig_rows) == 7
    from matplotlib.colors import to_rgb

    palette = {tuple(round(255 * c) for c in to_rgb(col)) for col in plots._palette(len(fig_rows))}
    assert len(palette) == 7  # one colour per row, none shared
    present = _colours(png)
    assert all(any(max(abs(a - b) for a, b in zip(c, p)) <= 2 for p in present) for c in palette)


def test_forest_plot_draws_each_difference_with_its_interval_per_family(tmp_path):
    table = _family_study(tmp_path / "runs")
    made = plots.plot_forest(table, tmp_path / "forest")
    assert [p.suffix for p in made] == [".png", ".pdf"] and _is_png(made[0]) and _is_pdf(made[1])
    width, height = _size(made[0])
    assert width <= 1500 and height <= 3000


def test_forest_plot_needs_a_baseline(study, tmp_path):
    ablation, results = study
    spec = read_ablation(ablation).table
    from dataclasses import replace

    table = build_table(collect(results, study="table3_combiners"), replace(spec, baseline=None),
                        options=StatsOptions(n_resamples=200))
    assert plots.plot_forest(table, tmp_path / "forest") == []
