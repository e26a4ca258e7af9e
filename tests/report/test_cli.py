"""`harness report` end to end on synthesised run directories."""

import numpy as np
import pandas as pd

from harness import cli
from tests.report.fakes import base_scores, write_run


def run(capsys, *argv):
    code = cli.main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_from_an_ablation_file_writes_every_format(study, tmp_path, capsys):
    ablation, results = study
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, str(ablation), "--results", str(results), "--format", "md,tex,html,csv",
                         "--out", str(out_dir), "--resamples", "500")
    assert code == 0, err
    for suffix in ("md", "tex", "html", "csv"):
        assert (out_dir / f"table3_combiners.{suffix}").stat().st_size > 0
    for name in ("forest", "capabilities", "objective_history"):
        assert (out_dir / "figures" / f"{name}.png").exists() and (out_dir / "figures" / f"{name}.pdf").exists()
    assert "sum (baseline)" in out and "Holm–Bonferroni" in out and "wrote md" in out
    html = (out_dir / "table3_combiners.html").read_text()
    assert 'src="figures/capabilities.png"' in html


def test_report_from_a_runs_folder_with_baseline_and_bh(study, tmp_path, capsys):
    _, results = study
    code, out, err = run(capsys, str(results / "runs"), "--baseline", "pcgrad", "--correction", "bh",
                         "--format", "csv", "--out", str(tmp_path / "o"), "--resamples", "500", "--no-figures")
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "o" / "runs.csv")
    assert set(frame["baseline"]) == {"pcgrad"} and set(frame["correction"]) == {"bh"}
    assert set(frame["unit"]) == {"frame_token"}
    assert not (tmp_path / "o" / "figures").exists()


def test_report_resamples_scenes_or_items_on_request(study, tmp_path, capsys):
    _, results = study
    for unit, words in (("scene_token", "Resampling unit: scenes (scene_token"), ("item", "Resampling unit: items")):
        code, out, err = run(capsys, str(results / "runs"), "--baseline", "sum", "--cluster", unit, "--format", "csv",
                             "--out", str(tmp_path / unit), "--resamples", "500", "--no-figures")
        assert code == 0, err
        assert words in out and set(pd.read_csv(tmp_path / unit / "runs.csv")["unit"]) == {unit}


def test_user_errors_are_one_line_with_exit_2(study, tmp_path, capsys):
    ablation, results = study
    for argv, expected in [
        ((str(ablation), "--results", str(results), "--format", "docx"), "'docx' is not one of md, tex, html, csv"),
        ((str(ablation), "--results", str(tmp_path / "nowhere")), "does not exist"),
        ((str(tmp_path / "missing.yaml"),), "not an ablation file"),
        ((str(ablation), "--results", str(results), "--baseline", "nope"), "baseline 'nope' is not a row"),
    ]:
        code, _, err = run(capsys, *argv, "--out", str(tmp_path / "x"), "--no-figures")
        assert code == 2, argv
        assert len(err.strip().splitlines()) == 1 and expected in err, err


def test_mixed_judges_exit_2_and_item_set_warning_is_printed(tmp_path, capsys, items):
    base = base_scores(items)
    write_run(tmp_path / "a", "sum", base, items)
    write_run(tmp_path / "a", "agp", base, items, judge_id="http:m@host")
    code, _, err = run(capsys, str(tmp_path / "a"), "--no-figures", "--out", str(tmp_path / "o"))
    assert code == 2 and "different judges" in err
    keep = np.arange(len(items)) % 4 != 0
    write_run(tmp_path / "b", "sum", base, items)
    write_run(tmp_path / "b", "agp", base[keep], items[keep].reset_index(drop=True))
    code, _, err = run(capsys, str(tmp_path / "b"), "--baseline", "sum", "--no-figures", "--resamples", "300",
                       "--out", str(tmp_path / "o"))
    assert code == 0 and "warning: 'agp' and baseline 'sum' were scored on different" in err


def test_api_write_report_returns_the_written_paths_and_prints_nothing(study, tmp_path, capsys):
    from harness import api

    ablation, results = study
    from harness.report.spec import StatsOptions

    written = api.write_report(ablation, formats=("md", "tex"), out=tmp_path / "r", results_root=results,
                               options=StatsOptions(n_resamples=300), figures=False)
    assert set(written) == {"md", "tex", "findings"} and all(p.exists() for p in written.values())
    assert capsys.readouterr().out == ""  # a library call: the CLI prints, the library does not


def test_harness_write_report_is_not_hidden_by_the_report_package(study, tmp_path):
    import harness
    import harness.report.stats  # noqa: F401  (binds harness.report to the package)
    from harness.report.spec import StatsOptions

    ablation, results = study
    assert not callable(harness.report)  # the package is a package; the verb has its own name
    written = harness.write_report(ablation, formats="md", out=tmp_path / "r", results_root=results,
                                   options=StatsOptions(n_resamples=200), figures=False)
    assert written["md"].exists()
