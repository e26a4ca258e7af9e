"""Tables built from synthesised run directories with known effects."""

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.report.collect import collect
from harness.report.spec import StatsOptions, TableSpec, read_ablation
from harness.report.tables import ItemSetWarning, build_table
from tests.report.fakes import base_scores, write_run

FAST = StatsOptions(n_resamples=1000)


def table_of(results, spec=None, **kw):
    spec = spec or TableSpec(name="t", baseline="sum", metrics=("perception", "reasoning", "planning", "avg"))
    return build_table(collect(results), spec, options=kw.pop("options", FAST), **kw)


def test_known_effects_get_the_right_marks(study):
    ablation, results = study
    spec = read_ablation(ablation).table
    table = build_table(collect(results, study="table3_combiners"), spec, options=FAST)
    assert table.rows == ["sum", "pcgrad", "agp", "worse"]  # the ablation's variant order
    for metric in ("perception", "reasoning", "planning", "avg"):
        assert table.cell("agp", "", metric).direction == 1
        assert table.cell("worse", "", metric).direction == -1
        assert table.cell("pcgrad", "", metric).direction == 0
        assert table.cell("sum", "", metric).test is None  # the baseline is not tested against itself
        assert table.cell("agp", "", metric).diff == pytest.approx(10, abs=2)
    assert table.cell("agp", "", "avg").best
    assert table.cell("agp", "", "avg").value == pytest.approx(
        np.mean([table.cell("agp", "", m).value for m in ("perception", "reasoning", "planning")]))
    # questions of one frame are correlated, so MCQ accuracy is tested by the cluster bootstrap too
    assert table.cell("agp", "", "mcq_acc_strict").test == "paired bootstrap over clusters"
    assert table.n_comparisons == 15  # 3 systems × (4 scores + MCQ accuracy)
    assert table.unit == "frame_token" and table.n_clusters == 25  # 50 items per capability, 2 per frame each


def test_items_as_the_unit_on_request_use_exact_mcnemar_and_say_so(study):
    ablation, results = study
    table = build_table(collect(results, study="table3_combiners"), read_ablation(ablation).table,
                        options=StatsOptions(n_resamples=1000, cluster="item"))
    assert table.cell("agp", "", "mcq_acc_strict").test.startswith("exact McNemar")
    assert table.cell("agp", "", "avg").test == "paired bootstrap over items"
    assert "Resampling unit: items (as asked" in table.caption


def test_scenes_on_request(study):
    ablation, results = study
    table = build_table(collect(results, study="table3_combiners"), read_ablation(ablation).table,
                        options=StatsOptions(n_resamples=1000, cluster="scene_token"))
    assert table.unit == "scene_token" and table.n_clusters == 7  # 25 frames, 4 per scene
    assert "Resampling unit: scenes (scene_token; 7 in this table)" in table.caption


def test_scores_without_frames_fall_back_to_items_and_the_caption_says_why(tmp_path, items):
    base = base_scores(items)
    old = items.drop(columns=["frame_token", "scene_token"])  # evaluated before clusters were recorded
    for variant, shift in (("sum", 0), ("agp", 10)):
        write_run(tmp_path, variant, np.clip(base + shift, 0, 100), old, variant=variant, study="s")
    table = table_of(tmp_path)
    assert table.unit == "item" and table.cell("agp", "", "avg").test == "paired bootstrap over items"
    assert "Resampling unit: items, because the scores carry no frame_token" in table.caption


def test_an_item_in_two_frames_is_refused(tmp_path, items):
    base = base_scores(items)
    moved = items.copy()
    moved.loc[0, "frame_token"] = "frame-9999"
    write_run(tmp_path, "sum", base, items, variant="sum", study="s")
    write_run(tmp_path, "agp", base, moved, variant="agp", study="s")
    with pytest.raises(HarnessError, match="item 'perc-0000' has different frame_token values"):
        table_of(tmp_path)


def test_the_item_bootstrap_is_too_narrow_on_frame_correlated_scores(tmp_path):
    """A system whose luck is per frame (all of a frame's questions move together): resampling
    items treats 6 correlated answers as 6 independent ones, so its intervals come out narrower
    than the frame bootstrap's by about the square root of the design effect."""
    from tests.report.fakes import item_table

    items = item_table(60, per_frame=3)  # 9 questions per frame
    base = base_scores(items)
    rng = np.random.default_rng(8)
    frames = items["frame_token"].to_numpy()
    luck = {f: rng.normal(0, 8) for f in np.unique(frames)}
    for variant, extra in (("sum", 0.0), ("agp", 1.0)):
        shift = np.array([luck[f] for f in frames]) if variant == "agp" else 0.0
        write_run(tmp_path, variant, base + extra + shift + rng.normal(0, 2, len(items)), items, variant=variant,
                  study="s")
    by_frame = table_of(tmp_path).cell("agp", "", "avg")
    by_item = table_of(tmp_path, options=StatsOptions(n_resamples=1000, cluster="item")).cell("agp", "", "avg")
    assert by_frame.diff_se > 2.0 * by_item.diff_se
    assert by_frame.diff_high - by_frame.diff_low > 2.0 * (by_item.diff_high - by_item.diff_low)


def test_caption_names_test_correction_seeds_items_and_findings(study):
    ablation, results = study
    table = build_table(collect(results, study="table3_combiners"), read_ablation(ablation).table, options=FAST)
    caption = table.caption
    assert caption.startswith("Combiners on the tiny zoo.")
    for phrase in ("paired bootstrap over clusters", "Resampling unit: frames (frame_token; 25 in this table)",
                   "Minimum detectable effect (80% power, α = 0.05", "Holm–Bonferroni", "15 comparisons",
                   "Seeds per system: 1", "perception 50, reasoning 50, planning 50", "judge rubric-v1",
                   "setting clean", "Significant: ", "agp Avg. higher", "worse Avg. lower"):
        assert phrase in caption, phrase
    assert "pcgrad Avg." not in caption
    assert "are not significant" in caption


def test_no_significant_difference_is_said_plainly(tmp_path, items):
    base = base_scores(items)
    rng = np.random.default_rng(0)
    for variant in ("sum", "same"):
        write_run(tmp_path, variant, np.clip(base + rng.normal(0, 3, len(items)), 0, 100), items, variant=variant,
                  study="s")
    table = table_of(tmp_path)
    assert "None of the 4 differences is significant." in table.caption
    assert not any(c.significant for c in table.cells.values())


def test_benjamini_hochberg_is_an_option(study):
    _, results = study
    table = table_of(results, options=StatsOptions(n_resamples=1000, correction="bh"))
    assert "Benjamini–Hochberg" in table.caption
    raw = [c.p_value for c in table.cells.values() if c.test]
    adjusted = [c.p_adjusted for c in table.cells.values() if c.test]
    assert all(a >= r - 1e-12 for a, r in zip(adjusted, raw))


def test_different_judges_are_refused_in_one_column(tmp_path, items):
    base = base_scores(items)
    write_run(tmp_path, "sum", base, items, judge_id="rubric-v1")
    write_run(tmp_path, "agp", base, items, judge_id="http:deepseek@api.example")
    with pytest.raises(HarnessError, match="different judges.*http:deepseek.*agp.*rubric-v1.*sum"):
        table_of(tmp_path, TableSpec(name="t", baseline="sum"))


def test_one_setting_per_table_and_a_missing_setting_is_an_error(tmp_path, items):
    base = base_scores(items)
    write_run(tmp_path, "sum", base, items, settings={"clean": base, "fog": base - 20})
    write_run(tmp_path, "agp", base, items, settings={"clean": base + 5, "fog": base - 20})
    fog = table_of(tmp_path, TableSpec(name="t", baseline="sum", setting="fog"))
    assert fog.cell("agp", "", "avg").value == pytest.approx(fog.cell("sum", "", "avg").value)
    assert "setting fog" in fog.caption
    with pytest.raises(HarnessError, match="no scores in setting 'rain'.*clean, fog"):
        table_of(tmp_path, TableSpec(name="t", baseline="sum", setting="rain"))
    write_run(tmp_path, "pcgrad", base, items, settings={"clean": base})
    with pytest.raises(HarnessError, match="pcgrad.*no scores in setting 'fog'"):
        table_of(tmp_path, TableSpec(name="t", baseline="sum", setting="fog"))


def test_different_item_sets_warn_and_compare_on_the_common_items(tmp_path, items):
    base = base_scores(items)
    write_run(tmp_path, "sum", base, items)
    keep = items.index % 5 != 0
    write_run(tmp_path, "agp", base[keep] + 4, items[keep].reset_index(drop=True))
    with pytest.warns(ItemSetWarning) as caught:
        table = table_of(tmp_path)
    messages = [str(w.message) for w in caught]
    assert any("different perception item sets (0 only in the first, 10 only in the baseline)" in m for m in messages)
    assert any("only in the baseline" in note for note in table.notes)
    assert table.cell("agp", "", "perception").diff == pytest.approx(4.0)


def test_missing_verdicts_are_left_out_and_reported(tmp_path, items):
    base = base_scores(items)
    holes = base.copy() + 3
    holes[:5] = np.nan  # first five perception items have no verdict
    write_run(tmp_path, "sum", base, items)
    write_run(tmp_path, "agp", holes, items)
    table = table_of(tmp_path)
    cell = table.cell("agp", "", "perception")
    assert cell.n_missing == 5 and cell.diff == pytest.approx(3.0)
    assert cell.value == pytest.approx(np.nanmean(holes[:50]))  # NaN is missing, never 0
    assert any("5 item(s) without a judge verdict" in note for note in table.notes)


def test_several_seeds_use_the_hierarchical_bootstrap(tmp_path, items):
    base = base_scores(items)
    rng = np.random.default_rng(1)
    for seed in (0, 1, 2):
        write_run(tmp_path, "sum", base + rng.normal(0, 3, len(items)), items, seed=seed)
        write_run(tmp_path, "agp", base + 8 + rng.normal(0, 3, len(items)), items, seed=seed)
    table = table_of(tmp_path)
    cell = table.cell("agp", "", "avg")
    assert cell.n_seeds == 3 and cell.direction == 1
    assert "hierarchical bootstrap (seeds, then clusters)" in table.caption
    assert "seeds are resampled above them" in table.caption
    assert "Seeds per system: 3" in table.caption


def test_unknown_baseline_says_which_rows_exist(study):
    _, results = study
    with pytest.raises(HarnessError, match="baseline 'summ' is not a row.*did you mean 'sum'"):
        table_of(results, baseline="summ")


def test_no_baseline_means_no_tests(study):
    _, results = study
    table = table_of(results, TableSpec(name="t"))
    assert table.n_comparisons == 0 and "no difference was tested" in table.caption


def test_table2_teacher_by_student_compares_within_each_student(tmp_path, items):
    base = base_scores(items)
    for student in ("1B", "2B"):
        for teacher, shift in (("8B", 0), ("38B", 12 if student == "2B" else 0)):
            write_run(tmp_path, f"kd_{teacher}_{student}", np.clip(base + shift, 0, 100), items,
                      student={"family": "internvl3", "scale": student}, teacher={"family": "internvl3", "scale": teacher})
    spec = TableSpec(name="t2", kind="table2", rows="teachers.perception_teacher.scale", columns=("student.scale",),
                     baseline="8B")
    table = table_of(tmp_path, spec)
    assert table.groups == ["1B", "2B"] and set(table.rows) == {"8B", "38B"}
    assert table.metrics == ["avg"]
    assert table.cell("38B", "2B", "avg").direction == 1
    assert table.cell("38B", "1B", "avg").direction == 0


def test_table1_efficiency_best_is_the_lowest_memory(tmp_path, items):
    base = base_scores(items)
    write_run(tmp_path, "sum", base, items, efficiency={"peak_memory_mb": 900.0, "tokens_per_second": 10.0,
                                                        "first_token_latency_s": 0.5})
    write_run(tmp_path, "agp", base, items, efficiency={"peak_memory_mb": 300.0, "tokens_per_second": 40.0,
                                                        "first_token_latency_s": 0.9})
    table = table_of(tmp_path, TableSpec(name="t1", kind="table1", baseline="sum"))
    assert table.cell("agp", "", "peak_memory_mb").best and not table.cell("sum", "", "peak_memory_mb").best
    assert table.cell("agp", "", "tokens_per_second").best
    assert table.cell("sum", "", "first_token_latency_s").best
    assert table.cell("agp", "", "peak_memory_mb").test is None  # efficiency is not tested


def test_unfinished_runs_are_skipped_and_said(tmp_path, items):
    base = base_scores(items)
    write_run(tmp_path, "sum", base, items)
    write_run(tmp_path, "agp", base, items)
    write_run(tmp_path, "crashed", base, items, status="failed")
    collected = collect(tmp_path)
    assert len(collected.runs) == 2 and "status is failed" in collected.skipped[0]
    assert any("skipped" in note for note in table_of(tmp_path).notes)


def test_a_study_shared_run_reports_under_each_study(tmp_path, items):
    from harness.rundir import RunDir

    base = base_scores(items)
    shared = write_run(tmp_path, "agp", base + 5, items, study="first", variant="agp_first", trial=0)
    RunDir(shared).update(study="second", variant="agp_second", trial=3,
                          studies={"first": {"variant": "agp_first", "trial": 0, "params": {}},
                                   "second": {"variant": "agp_second", "trial": 3, "params": {}}})
    write_run(tmp_path, "sum", base, items, study="first", variant="sum", trial=1)
    first = collect(tmp_path, study="first")
    assert sorted(first.runs["variant"]) == ["agp_first", "sum"]
    assert list(collect(tmp_path, study="second").runs["variant"]) == ["agp_second"]


def test_an_evaluation_without_training_is_a_row(tmp_path, items):
    from harness.rundir import RunDir

    base = base_scores(items)
    path = write_run(tmp_path, "pretrained", base, items)
    (path / "recipe.resolved.yaml").unlink()
    RunDir(path).update(kind="eval", model="InternVL3-1B", model_spec={"family": "internvl3", "scale": "1b"})
    write_run(tmp_path, "sum", base + 1, items, student={"family": "internvl3", "scale": "1b"})
    collected = collect(tmp_path)
    assert set(collected.runs["student_scale"]) == {"1b"}
    table = build_table(collected, TableSpec(name="t", kind="table1", rows="variant", columns=("student.scale",),
                                             baseline="pretrained"), options=FAST)
    assert table.groups == ["1b"] and table.cell("sum", "1b", "avg").diff == pytest.approx(1.0)


def test_avg_is_over_the_capabilities_present(tmp_path, items):
    base = base_scores(items)
    no_planning = items["capability"] != "planning"
    write_run(tmp_path, "sum", base[no_planning], items[no_planning].reset_index(drop=True))
    write_run(tmp_path, "agp", base[no_planning] + 2, items[no_planning].reset_index(drop=True))
    table = table_of(tmp_path)
    cell = table.cell("agp", "", "avg")
    assert cell.value == pytest.approx(np.mean([table.cell("agp", "", m).value for m in ("perception", "reasoning")]))
    assert cell.diff == pytest.approx(2.0) and table.cell("agp", "", "planning") is None
    assert any("no planning items" in note for note in table.notes)


def test_tiny_item_sets_are_called_a_smoke_test(tmp_path):
    from tests.report.fakes import item_table

    items = item_table(4)
    base = base_scores(items)
    write_run(tmp_path, "sum", base, items)
    write_run(tmp_path, "agp", base + 1, items)
    assert "read these numbers as a smoke test" in table_of(tmp_path).caption


def test_the_batched_path_equals_the_per_system_path(tmp_path, items):
    """A group with one missing verdict falls back to per-system draws; the other cells must not change."""
    base = base_scores(items)
    rng = np.random.default_rng(2)
    agp = np.clip(base + 3 + rng.normal(0, 5, len(items)), 0, 100)
    write_run(tmp_path / "a", "sum", base, items)
    write_run(tmp_path / "a", "agp", agp, items)
    batched = table_of(tmp_path / "a")
    holes = base.copy()
    holes[0] = np.nan
    write_run(tmp_path / "b", "sum", base, items)
    write_run(tmp_path / "b", "agp", agp, items)
    write_run(tmp_path / "b", "holes", holes, items)
    per_system = table_of(tmp_path / "b")
    for metric in ("perception", "reasoning", "planning", "avg"):
        one, other = batched.cell("agp", "", metric), per_system.cell("agp", "", metric)
        assert one.diff == pytest.approx(other.diff, abs=1e-9)
        assert one.p_value == pytest.approx(other.p_value, abs=1e-12)
        assert (one.ci_low, one.ci_high) == pytest.approx((other.ci_low, other.ci_high), abs=1e-9)


def test_several_seeds_with_missing_verdicts_take_the_per_system_hierarchical_path(tmp_path, items):
    base = base_scores(items)
    rng = np.random.default_rng(5)
    for seed in (0, 1):
        holes = base + 8 + rng.normal(0, 3, len(items))
        holes[seed] = np.nan
        write_run(tmp_path, "sum", base + rng.normal(0, 3, len(items)), items, seed=seed)
        write_run(tmp_path, "agp", holes, items, seed=seed)
    table = table_of(tmp_path)
    cell = table.cell("agp", "", "perception")
    assert cell.test.startswith("hierarchical") and cell.direction == 1
    assert cell.n_missing == 2 and cell.diff == pytest.approx(8, abs=1.5)


def test_two_runs_with_one_seed_are_noted(tmp_path, items):
    base = base_scores(items)
    write_run(tmp_path, "sum", base, items)
    write_run(tmp_path, "agp", base + 1, items, variant="x")
    write_run(tmp_path, "agp", base + 2, items, variant="y")  # same recipe and seed, another folder
    table = table_of(tmp_path, TableSpec(name="t", rows="recipe_name", baseline="sum"))
    assert table.seeds[("agp", "")] == 2
    assert any("several runs with seed 0" in note for note in table.notes)


def test_fewer_than_twenty_frames_make_a_smoke_test(tmp_path):
    from tests.report.fakes import item_table

    items = item_table(30)  # 30 items per capability but only 15 frames
    base = base_scores(items)
    for variant, shift in (("sum", 0), ("agp", 5)):
        write_run(tmp_path, variant, np.clip(base + shift, 0, 100), items, variant=variant, study="s")
    table = table_of(tmp_path)
    assert table.n_clusters == 15
    assert "With fewer than 20 frames to resample the bootstrap intervals are too narrow" in table.caption
