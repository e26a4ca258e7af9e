"""Settings side by side: (run, setting) pseudo-runs, paired tests against a baseline setting, caption, CLI."""

import copy
import io

import numpy as np
import pandas as pd
import pytest

from harness import cli
from harness.report import render
from harness.report.api import build, build_settings_table
from harness.report.collect import ReportInputError, collect
from harness.report.settings import BY_SETTING, by_setting
from harness.report.spec import DEFAULT_METRICS, StatsOptions, TableSpec, read_ablation
from tests.report.fakes import base_scores, item_table, write_run

FAST = StatsOptions(n_resamples=1000)
SCORES = ("perception", "reasoning", "planning", "avg")


@pytest.fixture
def items160():
    return item_table(54).iloc[:160].reset_index(drop=True)


def _noisy(base, shift, rng):
    return np.clip(base + shift + rng.normal(0, 6, len(base)), 0, 100)


@pytest.fixture
def grounded(tmp_path, items160):
    """Two seeds of a teacher and a student: clean is 12 points above text_only, fog 1 below clean."""
    base = base_scores(items160)
    rng = np.random.default_rng(5)
    for name, family in (("teacher", "internvl3"), ("student", "qwen2_5_vl")):
        for seed in (0, 1):
            clean = _noisy(base, 12, rng)
            settings = {"fog": _noisy(base, 11, rng), "text_only": _noisy(base, 0, rng), "clean": clean}
            write_run(tmp_path / "results", name, clean, items160, seed=seed, settings=settings,
                      student={"family": family, "zoo": "student", "scale": None},
                      efficiency={"device": "cpu", "batch_size": 4, "peak_memory_mb": 10.0 + seed,
                                  "tokens_per_second": 20.0, "first_token_latency_s": 0.5})
    return tmp_path / "results"


def test_by_setting_makes_one_pseudo_run_per_run_and_setting(grounded):
    collected = collect(grounded)
    across = by_setting(collected)
    runs = list(collected.runs["run_id"])
    settings = ["clean", "text_only", "fog"]  # clean, text_only, then the rest sorted
    assert list(across.runs["run_id"]) == [f"{r}@{s}" for s in settings for r in runs]
    assert list(across.runs["setting"]) == [s for s in settings for _ in runs]
    assert set(across.items["setting"]) == {BY_SETTING}
    assert len(across.items) == len(collected.items) and across.items["run_id"].nunique() == 12
    for run in runs:
        for setting in settings:
            pseudo = f"{run}@{setting}"
            assert across.infos[pseudo] == {**collected.infos[run], "setting": setting}
            assert across.value_of(pseudo, "setting") == setting
            assert across.recipes[pseudo] == collected.recipes[run]
            mine = across.items[across.items["run_id"] == pseudo].set_index("item_id")["judge_total"]
            source = collected.items[(collected.items["run_id"] == run) & (collected.items["setting"] == setting)]
            pd.testing.assert_series_equal(mine, source.set_index("item_id")["judge_total"], check_names=False)
    memory = across.runs.set_index("run_id")["peak_memory_mb"]
    assert memory[f"{runs[0]}@fog"] == memory[f"{runs[0]}@clean"] == collected.runs.set_index("run_id").loc[
        runs[0], "peak_memory_mb"]
    only = by_setting(collected, ["fog", "clean", "fog"])
    assert list(only.runs["setting"]) == ["fog"] * 4 + ["clean"] * 4


def test_by_setting_leaves_its_input_as_it_was(grounded):
    collected = collect(grounded)
    items, runs = collected.items.copy(deep=True), collected.runs.copy(deep=True)
    infos, recipes = copy.deepcopy(collected.infos), copy.deepcopy(collected.recipes)
    across = by_setting(collected, ["clean", "text_only"])
    across.infos[next(iter(across.infos))]["summary"]["eval"]["avg"] = -1
    across.recipes[next(iter(across.recipes))]["student"]["family"] = "changed"
    pd.testing.assert_frame_equal(collected.items, items)
    pd.testing.assert_frame_equal(collected.runs, runs)
    assert collected.infos == infos and collected.recipes == recipes


def test_a_run_without_a_requested_setting_is_named(tmp_path, items160):
    base = base_scores(items160)
    write_run(tmp_path, "full", base, items160, settings={"clean": base, "text_only": base})
    partial = write_run(tmp_path, "partial", base, items160, settings={"clean": base})
    collected = collect(tmp_path)
    with pytest.raises(ReportInputError, match=rf"run partial/{partial.name} has no scores in setting 'text_only'"):
        by_setting(collected)
    assert by_setting(collected, ["clean"]).runs.shape[0] == 2
    with pytest.raises(ReportInputError, match=r"setting 'rain' is not among the runs' settings: clean, text_only"):
        by_setting(collected, ["clean", "rain"])


def test_clean_is_significantly_better_than_text_only_and_fog_is_not_worse_than_clean(grounded):
    collected = collect(grounded)
    table = build_settings_table(collected, columns=("student.family",), baseline="text_only", options=FAST)
    assert table.rows == ["clean", "text_only", "fog"] and sorted(table.groups) == ["internvl3", "qwen2_5_vl"]
    assert table.setting == BY_SETTING and table.metrics == list(DEFAULT_METRICS["settings"])
    for group in table.groups:
        for metric in SCORES:
            cell = table.cell("clean", group, metric)
            assert cell.direction == 1 and cell.diff == pytest.approx(12, abs=2.5), (group, metric)
            assert cell.test == "hierarchical bootstrap (seeds, then clusters)" and cell.n_seeds == 2
            assert table.cell("text_only", group, metric).test is None
    robust = build_settings_table(collected, settings=["fog"], columns=("student.family",), options=FAST)
    assert robust.rows == ["clean", "fog"]  # the baseline is shown even when not listed
    assert all(robust.cell("fog", g, m).direction == 0 for g in robust.groups for m in SCORES)
    assert robust.n_comparisons == 2 * 5


def test_identical_settings_are_never_significant(tmp_path, items160):
    base = base_scores(items160)
    rng = np.random.default_rng(9)
    for seed in (0, 1):
        scores = _noisy(base, 0, rng)
        write_run(tmp_path, "same", scores, items160, seed=seed, settings={"clean": scores, "text_only": scores})
    table = build_settings_table(collect(tmp_path), baseline="text_only", options=FAST)
    assert table.n_comparisons == 5 and not any(c.significant for c in table.cells.values())
    assert all(table.cell("clean", "same", m).diff == 0 for m in SCORES)
    assert "None of the 5 differences is significant." in table.caption


def test_caption_says_rows_are_settings_of_the_same_models(grounded):
    table = build_settings_table(collect(grounded), columns=("student.family",), baseline="text_only",
                                 caption="Visual grounding", options=FAST)
    text = table.caption
    assert text.startswith("Visual grounding.")
    for phrase in ("settings clean, text_only, fog", "Rows are evaluation settings, not different systems",
                   "same runs (same models and seeds), scored on the same items",
                   "compared with the baseline setting 'text_only' of the same column group, paired on items",
                   "value than in text_only", "Seeds per model: 2", "clean (internvl3) Avg. higher",
                   "Holm–Bonferroni"):
        assert phrase in text, phrase
    assert "setting by setting" not in text and "by setting)" not in text
    assert "fog (internvl3) Avg. higher" in text  # fog is 11 above text_only as well
    robust = build_settings_table(collect(grounded), settings=["clean", "fog"], options=FAST).caption
    assert "baseline setting 'clean'" in robust and "None of the 10 differences is significant." in robust


def test_settings_table_renders_in_every_format(grounded):
    table = build_settings_table(collect(grounded), columns=("student.family",), baseline="text_only", options=FAST)
    md = render.render_markdown(table)
    assert "| setting |" in md and "| text_only (baseline) |" in md
    clean = next(line for line in md.splitlines() if line.startswith("| clean |"))
    assert clean.count("↑") == 8  # 4 scores × 2 groups; MCQ accuracy is the same in every setting here
    text_only = next(line for line in md.splitlines() if line.startswith("| text_only (baseline) |"))
    assert "**" not in text_only and "↑" not in text_only and "↓" not in text_only
    tex = render.render_latex(table)
    assert r"text\_only (baseline)" in tex and r"\multicolumn{5}{c}{qwen2\_5\_vl}" in tex
    assert r"$^{\uparrow}$" in tex and "↑" not in tex
    html = render.render_html([table], title="Across settings")
    assert 'class="up"' in html and "text_only (baseline)" in html
    frame = pd.read_csv(io.StringIO(render.render_csv(table)))
    assert set(frame["row"]) == {"clean", "text_only", "fog"} and set(frame["baseline"]) == {"text_only"}


def test_an_ablation_file_can_ask_for_a_settings_table(tmp_path, grounded):
    spec = TableSpec(name="t", kind="settings")
    assert spec.rows == "setting" and spec.metrics == (*SCORES, "mcq_acc_strict")
    assert TableSpec(name="t").rows == "variant"
    ablation = tmp_path / "grounding.yaml"
    ablation.write_text("name: grounding\nbase: x.yaml\ntable:\n  kind: settings\n  settings: [text_only]\n"
                        "  columns: [recipe_name]\n")
    read = read_ablation(ablation).table
    assert (read.kind, read.rows, read.settings, read.columns) == ("settings", "setting", ("text_only",),
                                                                  ("recipe_name",))
    table, collected, _ = build(grounded / "runs", table={"kind": "settings", "rows": "setting",
                                                          "metrics": ("avg",), "settings": ("text_only",)},
                                options=FAST)
    assert table.rows == ["clean", "text_only"] and table.baseline == "clean"  # clean is the default baseline
    assert table.groups == ["student", "teacher"]  # one group per model, never pooled
    assert table.cell("text_only", "teacher", "avg").direction == -1
    assert len(collected.runs) == 4  # the caller gets the runs, not the pseudo-runs


def run_cli(capsys, *argv):
    code = cli.main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_kind_settings(grounded, tmp_path, capsys):
    out_dir = tmp_path / "o"
    code, out, err = run_cli(capsys, str(grounded / "runs"), "--kind", "settings", "--settings", "clean,text_only",
                             "--columns", "student.family", "--baseline", "text_only", "--format", "md,csv",
                             "--out", str(out_dir), "--resamples", "500", "--no-figures")
    assert code == 0, err
    assert "text_only (baseline)" in out and "Rows are evaluation settings" in out
    frame = pd.read_csv(out_dir / "runs.csv")
    assert list(dict.fromkeys(frame["row"])) == ["clean", "text_only"]
    assert frame.loc[(frame["row"] == "clean") & (frame["metric"] == "avg"), "significant"].all()
    for argv, expected in [
        (("--kind", "settings", "--settings", "clean,rain"), "setting 'rain' is not among the runs' settings: "
                                                             "clean, text_only, fog"),
        (("--kind", "settings", "--baseline", "snow"), "baseline setting 'snow' is not among the runs' settings"),
        (("--settings", "clean,fog"), "use --kind settings"),
    ]:
        code, _, err = run_cli(capsys, str(grounded / "runs"), *argv, "--out", str(tmp_path / "x"), "--no-figures",
                               "--resamples", "200")
        assert code == 2, argv
        assert len(err.strip().splitlines()) == 1 and expected in err, err
