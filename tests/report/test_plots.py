"""Figures are written as PNG and PDF from tables, metrics.jsonl and trial results."""

from harness.report import plots
from harness.report.collect import collect
from harness.report.spec import StatsOptions, read_ablation
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
    from harness.rundir import append_jsonl

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
