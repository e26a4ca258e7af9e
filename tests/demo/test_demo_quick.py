"""`harness demo --quick`: the whole mini paper, every size cut down, end to end.

The same five stages as `make demo` (zoo and data, the shipped teachers evaluated alone, the
colour study's 8 runs through the sweep, the mechanism, the report), only with two optimizer
steps everywhere and a handful of items, so the numbers mean nothing; what is checked is that
every table, format and figure is made from real runs, and that a second call reuses
everything instead of overwriting it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from harness.demo.plan import FAMILIES, METHODS, NEGATIVE_CONTROL

pytestmark = pytest.mark.slow

#: The default demo's methods (ablations/tiny/demo.yaml), one seed each.
DEMO_METHODS = {"SFT (CE only)", "single teacher: perception", "multi-teacher: AGP", NEGATIVE_CONTROL}
SECTIONS = ("What was and was not significant", "Do the teachers use the image?", "Table 1 analogue",
            "Table 2 analogue", "Table 3 analogue", "Where or how much", "Robustness",
            "The mechanism: where the models look",
            "How this was made")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    env = {"HARNESS_CACHE": str(root / "cache"), "HARNESS_RESULTS": str(root / "results")}
    import os

    cmd = [sys.executable, "-m", "harness.cli", "demo", "--quick"]
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "results" / "demo-quick", done, cmd, {**os.environ, **env}


def test_quick_demo_writes_the_whole_report(demo):
    out, done, _, _ = demo
    md = (out / "report.md").read_text()
    for heading in SECTIONS:
        assert heading in md, heading
    assert "no number here means anything" in md  # the quick form says so
    for family in FAMILIES:
        assert family in md
    tex = (out / "report.tex").read_text()
    assert tex.startswith("\\documentclass") and tex.count("\\begin{table}") == 6
    html = (out / "report.html").read_text()
    assert html.count("<table>") == 6
    assert "What was and was not significant" in html and tex.count("\\item") >= 5
    assert "figures/forest_table3.png" in html and (out / "figures" / "forest_table3.png").stat().st_size > 0
    assert "<code>text_only</code>" in html and "`text_only`" not in html  # its Markdown is rendered
    assert len(list((out / "tables").glob("*.csv"))) == 6
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) >= {"inputs", "models", "students", "mechanism", "report", "total"}
    assert "demo [5/5]" in done.stdout


def test_every_method_family_and_seed_is_a_real_evaluated_run(demo):
    out = demo[0]
    runs = [p.parent for p in (out / "runs").rglob("run.json")]
    assert len(runs) == len(DEMO_METHODS) * len(FAMILIES)
    for run in runs:
        info = json.loads((run / "run.json").read_text())
        assert info["status"] == "finished", run
        scores = pd.read_parquet(run / "eval" / "scores.parquet")
        assert set(scores["setting"]) == {"clean", "text_only"}
        assert set(scores["kind"]) == {"mcq"} and scores["correct_ranked"].notna().all()  # closed, ranked and parsed
    evals = [p.parent for p in (out / "evals").rglob("run.json")]
    assert len(evals) == len(FAMILIES)  # the shipped teacher of each family, evaluated alone


def test_table_csvs_hold_the_tested_comparisons(demo):
    out = demo[0]
    table3 = pd.read_csv(out / "tables" / "table3_methods.csv")
    assert set(table3["group"]) == set(FAMILIES)
    assert set(table3["row"]) == DEMO_METHODS and set(table3["row"]) <= set(METHODS)
    assert set(table3["metric"]) == {"closed_acc_ranked", "closed_acc_parsed"}
    tested = table3[table3["row"] != "SFT (CE only)"]
    assert tested["p_adjusted"].notna().all() and (tested["n_seeds"] == 1).all()
    robustness = pd.read_csv(out / "tables" / "robustness.csv")  # every student, tested text-only against clean
    tested_groups = set(robustness.loc[robustness["row"] == "text_only", "group"])
    assert {f"{family} / {method}" for family in FAMILIES for method in DEMO_METHODS} <= tested_groups
    controls = pd.read_csv(out / "tables" / "controls.csv")  # where (perception) against how much (the control)
    assert set(controls["group"]) == set(FAMILIES)
    assert set(controls["row"]) == {"single teacher: perception", "negative control: perception from a permuted teacher"}
    assert controls.loc[controls["row"] == "single teacher: perception", "p_adjusted"].notna().all()
    findings = json.loads((out / "findings.json").read_text())["findings"]
    assert {f["family"] for f in findings if f["table"] == "controls"} == set(FAMILIES)
    grounding = pd.read_csv(out / "tables" / "grounding.csv")
    assert {"clean", "text_only"} <= set(grounding["row"])
    assert grounding.loc[grounding["row"] == "clean", "p_adjusted"].notna().all()


def test_the_mechanism_stage_measures_the_teacher_and_every_method_of_each_family(demo):
    out = demo[0]
    findings = json.loads((out / "findings.json").read_text())["findings"]
    for family in FAMILIES:
        result = json.loads((out / f"mechanism-{family}.json").read_text())
        systems = {r["system"] for r in result["rows"]}
        assert systems == {"teacher"} | DEMO_METHODS  # the teacher and each method's first seed
        students = [r for r in result["rows"] if r["system"] != "teacher"]
        assert {r["layer"] for r in students} == {"first", "penultimate"}
        assert all(r["mse"]["mean"] is not None and r["share"]["n_items"] > 0 for r in students)
        # the teacher (teacher_s: 6 layers) at its named layers and at each other one, by index
        assert [r["layer"] for r in result["rows"] if r["system"] == "teacher"] == ["first", "penultimate", "1", "2", "3", "5"]
        lifts = [f for f in findings if f["table"] == "mechanism" and f["family"] == family]
        assert len(lifts) == 2 * len(systems) + 4


def test_a_second_demo_reuses_every_run_and_evaluation(demo):
    out, _, cmd, env = demo
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("run.json")}
    stamps.update({p: p.stat().st_mtime_ns for p in out.glob("mechanism-*.json")})
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in [*out.rglob("run.json"), *out.glob("mechanism-*.json")]} == stamps
    assert "already evaluated" in again.stdout or "reused" in again.stdout.lower() or "complete" in again.stdout


def test_the_report_tables_follow_a_study_that_names_its_metrics(demo):
    """A study of closed questions only (the demo's colour study) reports closed accuracies."""
    import yaml

    from harness.demo.pipeline import LABELS_FILE
    from harness.demo.report import build_sections, label_evaluations
    from harness.report.collect import collect
    from harness.report.spec import EFFICIENCY_METRICS

    out = demo[0]
    study = yaml.safe_load((out / "ablation.yaml").read_text())["name"]
    labels = json.loads((out / LABELS_FILE).read_text())
    assert len(labels) == len(FAMILIES)  # a teacher per family; the students start from the zoo
    closed = ("closed_acc_ranked", "closed_acc_parsed")
    collected = label_evaluations(collect(out), labels)
    tables = {s.key: s.table for s in build_sections(collected, study, metrics=closed)}
    assert tuple(tables["table3"].metrics) == closed
    assert tuple(tables["table1"].metrics) == (*closed, *EFFICIENCY_METRICS)
    for key in ("grounding", "table2", "robustness"):
        assert tuple(tables[key].metrics) == closed[:1], key
    assert tables["table3"].n_comparisons > 0
