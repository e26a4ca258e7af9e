"""Each output format carries the same table: values, ± intervals, bold best, significance marks."""

import io

import pandas as pd
import pytest

from harness.report import render
from harness.report.collect import collect
from harness.report.spec import StatsOptions, read_ablation
from harness.report.tables import build_table


@pytest.fixture
def table(study):
    ablation, results = study
    return build_table(collect(results, study="table3_combiners"), read_ablation(ablation).table,
                       options=StatsOptions(n_resamples=1000))


def test_markdown_has_one_line_per_row_bold_best_and_marks(table):
    text = render.render_markdown(table)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| variant"))
    assert header.count("|") == 7  # label + 5 metrics
    agp = next(line for line in lines if line.startswith("| agp "))
    assert agp.count("**") == 2 * 5 and agp.count("↑") == 4  # best everywhere; MCQ not significant
    worse = next(line for line in lines if line.startswith("| worse "))
    assert worse.count("↓") == 4
    assert "| sum (baseline) |" in text and table.caption in text


def test_latex_uses_booktabs_bold_and_escapes(table):
    text = render.render_latex(table)
    for token in (r"\toprule", r"\midrule", r"\bottomrule", r"\textbf{", r"$\pm$", r"$^{\uparrow}$",
                  r"$^{\downarrow}$", r"\caption{", r"\label{tab:table3_combiners}", r"95\%"):
        assert token in text, token
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0]
    assert len([line for line in body.splitlines() if line.strip().endswith(r"\\")]) == 4
    for raw in ("±", "α", "↑", "↓", "Δ", "–"):
        assert raw not in text, raw  # non-ASCII symbols become math or dashes


def test_latex_groups_make_multicolumn_headers(study):
    _, results = study
    from harness.report.spec import TableSpec

    table = build_table(collect(results), TableSpec(name="t1", kind="table1", rows="variant",
                                                    columns=("student.family",), baseline="sum"),
                        options=StatsOptions(n_resamples=300))
    text = render.render_latex(table)
    assert r"\multicolumn{7}{c}{internvl3}" in text and r"\cmidrule(lr){2-8}" in text


def test_html_is_a_standalone_page(table):
    page = render.render_html([table], title="Report: t", figures=[{"src": "figures/x.png", "title": "x"}])
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert "<strong>" in page and 'class="up"' in page and 'class="down"' in page
    assert '<img src="figures/x.png"' in page and "<style>" in page


def test_csv_is_tidy_and_complete(table):
    frame = pd.read_csv(io.StringIO(render.render_csv(table)))
    assert len(frame) == 4 * 5
    agp_avg = frame[(frame["row"] == "agp") & (frame["metric"] == "avg")].iloc[0]
    assert agp_avg["significant"] and agp_avg["direction"] == 1 and agp_avg["p_adjusted"] < 0.05
    assert {"ci_low", "ci_high", "effect_size_dz", "judge_id", "setting", "correction"} <= set(frame.columns)


def test_terminal_rendering_is_a_plain_table(table):
    text = render.render_terminal(table)
    assert "variant" in text and "sum (baseline)" in text and "**" not in text


def test_tex_escape():
    assert render.tex_escape("a_b & 5% #1") == r"a\_b \& 5\% \#1"


def test_html_escapes_labels_and_captions(tmp_path, items):
    import numpy as np

    from harness.report.spec import TableSpec
    from tests.report.fakes import base_scores, write_run

    base = base_scores(items)
    write_run(tmp_path, "sum", base, items, variant="<b>sum</b>", study="s")
    write_run(tmp_path, "agp", np.clip(base + 3, 0, 100), items, variant="a&b", study="s")
    table = build_table(collect(tmp_path), TableSpec(name="t", baseline="<b>sum</b>", caption="x < y"),
                        options=StatsOptions(n_resamples=200))
    page = render.render_html([table], title="T")
    assert "&lt;b&gt;sum&lt;/b&gt;" in page and "<b>sum</b>" not in page
    assert "a&amp;b" in page and "x &lt; y" in page
    assert "<strong>" in page  # cell markup is kept


def test_table1_rows_of_one_family_each_become_sections(tmp_path, items):
    import numpy as np

    from harness.report.spec import TableSpec
    from tests.report.fakes import base_scores, write_run

    base = base_scores(items)
    for family, scale in (("internvl3", "1b"), ("qwen2_5_vl", "3b")):
        for method, shift in (("ce", 0), ("multi_agp", 6)):
            write_run(tmp_path, f"{family}_{method}", np.clip(base + shift, 0, 100), items,
                      variant=f"{family}_{method}", study="t1", student={"family": family, "scale": scale})
    spec = TableSpec(name="t1", kind="table1", rows="variant", columns=("student.family", "student.scale"))
    table = build_table(collect(tmp_path), spec, options=StatsOptions(n_resamples=200))
    md = render.render_markdown(table)
    assert "| **internvl3 / 1b** |" in md and "| **qwen2_5_vl / 3b** |" in md
    assert "internvl3 / 1b: Perception" not in md  # metrics are plain columns, not per-group blocks
    lines = md.splitlines()
    assert lines.index("| **internvl3 / 1b** |" + " |" * 7) < next(
        i for i, line in enumerate(lines) if line.startswith("| internvl3_ce |"))
    tex = render.render_latex(table)
    assert r"\multicolumn{8}{l}{\textit{qwen2\_5\_vl / 3b}} \\" in tex and r"\cmidrule" not in tex
    html = render.render_html([table], title="t1")
    assert 'colspan="8"' in html
    assert "[internvl3 / 1b]" in render.render_terminal(table)


def test_html_renders_markdown_prose_and_escapes_raw_html(table):
    page = render.render_html([table], title="T", description="Run `make demo`, then **read** it. <script>x</script>",
                              sections=[("Why", "Compared with `text_only` (black images).")],
                              summary=[("**Table 3**: 1 of 4 significant", ["`agp` higher"])])
    assert "<code>make demo</code>" in page and "<strong>read</strong>" in page
    assert "`make demo`" not in page and "`text_only`" not in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<h2>Why</h2>" in page and "<code>text_only</code>" in page
    assert "<strong>Table 3</strong>" in page and "<code>agp</code> higher" in page


def test_html_tables_scroll_inside_the_page_instead_of_widening_it(table):
    page = render.render_html([table], title="T")
    assert '<div class="wide">\n<table>' in page and ".wide { max-width: 100%; overflow-x: auto; }" in page
