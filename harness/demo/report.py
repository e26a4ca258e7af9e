"""The demo's report: the mini paper's tables from the demo's runs, with a plain summary.

Every number comes from the run and evaluation directories under the demo's folder,
through the report package (harness.report): the tables, their tests and captions are
the same ones `harness report` writes. This module only chooses which runs go into
which table, labels the stand-alone evaluations (teachers, pretrained students), and
writes one Markdown / LaTeX / HTML document with a summary that lists what was
significant and says that the rest was not.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.demo.plan import BASELINE_METHOD, METHODS, MULTI_AGP, NEGATIVE_CONTROL, SINGLE_PERCEPTION
from harness.files import atomic_write_text
from harness.report import plots, render
from harness.report.findings import write_findings
from harness.report.mechanism import mechanism_findings, render_mechanism_markdown
from harness.report.gradients import gradient_share_rows, render_gradient_shares_markdown
from harness.report.caption import signed, system_label
from harness.report.collect import Collected, collect, in_study
from harness.report.spec import EFFICIENCY_METRICS, METRIC_TITLES, StatsOptions, TableSpec
from harness.report.tables import Table, build_table

TEACHER = "teacher (teacher_s + SFT)"
PRETRAINED = "pretrained student (no method)"
COLUMNS = ("student.family",)
# The grounding question is one comparison per model (clean vs text-only); per-capability
# columns would multiply the comparisons the Holm correction has to pay for. Table 2 and
# the robustness table show the same one metric.
GROUNDING_METRICS = ("avg",)

MECHANISM_INTRO = (
    "Each family's teacher and each method's student (its first seed) on the same held-out clean items: the share "
    "of text-to-vision attention (rows after the image, pooled) on the referred object's image tokens, the prior "
    "(uniform attention's share, the object's fraction of tokens), their difference (lift, paired over items, "
    "frames resampled; Holm-adjusted over the table's lifts), and each student's map MSE and correlations against "
    "its teacher at the same named layer. The teacher is also shown at its other layers, by index (0 is the "
    "first). A student that learnt where its teacher looks agrees more than the SFT "
    "student does; the negative control (permuted image columns) should not.")


@dataclass
class Section:
    """One table of the report with the words around it."""

    key: str
    heading: str
    intro: str
    table: Table


def label_evaluations(collected: Collected, labels: dict[str, str]) -> Collected:
    """Give stand-alone evaluation directories (by path) a ``description`` like the runs have."""
    by_path = dict(zip(collected.runs["run_path"], collected.runs["run_id"]))
    for path, text in labels.items():
        run_id = by_path.get(str(path))
        if run_id is not None:
            collected.infos[run_id] = {**collected.infos[run_id], "description": text}
    return collected


def _runs_where(collected: Collected, field: str, values: Sequence[str]) -> list[str]:
    wanted = set(values)
    return [r for r in collected.runs["run_id"] if collected.value_of(r, field) in wanted]


def build_sections(collected: Collected, study: str, *, options: StatsOptions | None = None,
                   settings: Sequence[str] = ("clean", "text_only"), steps: int | None = None,
                   metrics: Sequence[str] | None = None) -> list[Section]:
    """The report's tables, in reading order.

    ``metrics`` (the ablation's ``table.metrics``; default: each table kind's own) are the
    quality metrics every table shows; Table 1 adds the efficiency metrics. A study of closed
    questions only (the default demo, ablations/tiny/demo.yaml) reports closed accuracies.
    """
    quality = tuple(metrics) if metrics else None
    headline = (quality[0],) if quality else GROUNDING_METRICS  # the one metric of the settings and Table 2
    from harness.report.api import build_settings_table

    options = options or StatsOptions()
    methods = [r for r in collected.runs["run_id"] if in_study(collected.infos[r], study) is not None]
    students = collected.subset(methods)
    evals = _runs_where(collected, "description", [TEACHER, PRETRAINED])
    teachers = _runs_where(collected, "description", [TEACHER])
    sft_and_agp = _runs_where(students, "description", [BASELINE_METHOD, MULTI_AGP])
    agp = _runs_where(students, "description", [MULTI_AGP])
    sections: list[Section] = []

    grounding = build_settings_table(
        collected.subset(evals), settings=["clean", "text_only"], columns=("student.family", "description"),
        baseline="text_only", name="grounding", options=options, metrics=headline,
        caption="Fine-tuned tiny teachers and pretrained tiny students, each evaluated on the same items in every setting")
    sections.append(Section(
        "grounding", "Do the teachers use the image?",
        "A teacher can only pass on where to look if it looks. Each row is one evaluation setting of the same model on "
        "the same items; every setting is compared with `text_only` (black images), paired on items. A teacher that "
        "reads its image scores higher on `clean` than on `text_only`.", grounding))

    table1 = build_table(collected.subset(evals + sft_and_agp), TableSpec(
        name="table1_models", kind="table1", rows="description", columns=COLUMNS, baseline=BASELINE_METHOD,
        order=(TEACHER, PRETRAINED, BASELINE_METHOD, MULTI_AGP),
        metrics=(*quality, *EFFICIENCY_METRICS) if quality else (),
        caption="Analogue of the paper's Table 1: the tiny teacher, the pretrained student, and the student after "
                "plain SFT and after multi-teacher Drive-KD with AGP, per family"), options=options)
    sections.append(Section(
        "table1", "Table 1 analogue: teachers, students and their cost",
        "The paper compares small students with large models on score and cost. Here the 'large model' is the tiny "
        "teacher_s (about 3x the student's parameters: 0.68 M vs 0.23 M); memory, tokens/s and first-token latency are measured during "
        "the evaluation on this machine's CPU.", table1))

    table2 = build_table(collected.subset(agp + teachers), TableSpec(
        name="table2_teacher_student", kind="table2", rows="description", columns=COLUMNS, metrics=headline,
        baseline=TEACHER, order=(TEACHER, MULTI_AGP),
        caption="Analogue of the paper's Table 2 (teacher → student, Avg.): each family's teacher and the student "
                "distilled from it with AGP; the student is tested against its own teacher"), options=options)
    sections.append(Section(
        "table2", "Table 2 analogue: teacher → student",
        "The paper's Table 2 crosses teacher sizes with student sizes. The demo has one teacher size and one "
        "student size per family (the tiny zoo's teacher_s and student; its teacher_l is not grounded by this "
        "recipe and would not fit the time budget), so this table asks the narrower question of how much of its "
        "teacher's score the AGP student reaches.", table2))

    table3 = build_table(students, TableSpec(
        name="table3_methods", kind="table3", rows="description", columns=COLUMNS, baseline=BASELINE_METHOD,
        order=METHODS, metrics=quality or (),
        caption="Analogue of the paper's Table 3: every method against plain SFT, per family"), options=options)
    sections.append(Section(
        "table3", "Table 3 analogue: single teachers, multi-teacher combiners",
        "Every method starts from the same student (pretrained, where the study pretrains one) and trains for the same "
        f"{steps if steps else 'number of'} optimizer steps on the same questions; only the objectives and the way "
        "their gradients are combined differ.", table3))

    controls = _runs_where(students, "description", [SINGLE_PERCEPTION, NEGATIVE_CONTROL])
    if {students.value_of(r, "description") for r in controls} == {SINGLE_PERCEPTION, NEGATIVE_CONTROL}:
        contrast = build_table(students.subset(controls), TableSpec(
            name="controls", kind="table3", rows="description", columns=COLUMNS, baseline=NEGATIVE_CONTROL,
            order=(NEGATIVE_CONTROL, SINGLE_PERCEPTION), metrics=quality or (),
            caption="The positive control (perception from the teacher) against the negative control (perception "
                    "from the same teacher with its image columns permuted per sample), per family"), options=options)
        sections.append(Section(
            "controls", "Where or how much: the positive against the negative control",
            "The two students differ only in the teacher maps they copy: the teacher's own, or the same maps with "
            "each image's columns permuted (how much each text row looks at the image is kept, where it looks is "
            "not). Table 3 tests each against SFT; this table tests whether copying where the teacher looks is "
            "worth more than copying how much it looks.", contrast))

    robustness = build_settings_table(  # every student: "the distilled students use their images" is tested here
        collected.subset(list(students.runs["run_id"]) + evals), settings=list(settings),
        columns=("student.family", "description"), baseline="clean", name="robustness", options=options,
        metrics=headline,
        caption="Teachers, pretrained students and every method's student in every evaluation setting "
                f"({METRIC_TITLES[headline[0]]} only)")
    sections.append(Section(
        "robustness", "Robustness: text-only and corrupted images",
        "DriveBench asks how much a model's answers depend on the image: each setting of every model is "
        "compared with its `clean` score on the same items. A model that ignores its image scores the same "
        "(or better) without it.", robustness))
    return sections


def significant_findings(table: Table) -> tuple[list[str], int]:
    """(one line per significant difference, number of differences tested)."""
    found = []
    for (row, group, metric), cell in table.cells.items():
        if cell.significant and math.isfinite(cell.diff):
            word = "higher" if cell.diff > 0 else "lower"
            found.append(f"{system_label(row, group)}: {METRIC_TITLES[metric]} {word} than {table.baseline} "
                         f"(Δ = {signed(cell.diff, metric)}, adjusted p = {cell.p_adjusted:.2g})")
    return found, table.n_comparisons


def _summary_parts(sections: list[Section]) -> list[tuple[str, str, list[str]]]:
    """Per table: (heading, how many tested differences were significant, each of them)."""
    out = []
    for s in sections:
        found, tested = significant_findings(s.table)
        if tested == 0:
            out.append((s.heading, "nothing could be tested.", []))
            continue
        text = (f"{len(found)} of {tested} tested differences significant (baseline {s.table.baseline}; "
                f"{s.table.options.correction} correction, α = {s.table.options.alpha:g})")
        if found:
            out.append((s.heading, text + ":", [*found, f"the other {tested - len(found)} differences are not significant."]))
        else:
            out.append((s.heading, text + "; no difference in this table can be told from noise.", []))
    return out


def summary(sections: list[Section]) -> list[tuple[str, list[str]]]:
    """The summary as ``[(line, [sub-lines])]`` (what the HTML and LaTeX pages list)."""
    return [(f"{heading}: {text}", items) for heading, text, items in _summary_parts(sections)]


def summary_lines(sections: list[Section]) -> list[str]:
    """The summary as Markdown list lines, each table's heading in bold."""
    lines = []
    for heading, text, items in _summary_parts(sections):
        lines.append(f"- **{heading}**: {text}")
        lines.extend(f"  - {item}" for item in items)
    return lines


def _figures(sections: list[Section], students: Collected, folder: Path) -> dict[str, Path]:
    made: dict[str, Path] = {}
    for s in sections:  # a forest plot per table: the differences to read before the numbers
        for path in plots.plot_forest(s.table, folder / f"forest_{s.key}"):
            made[f"forest_{s.key}{path.suffix}"] = path
    table3 = next(s.table for s in sections if s.key == "table3")
    for path in plots.plot_capabilities(table3, folder / "capabilities"):
        made[f"capabilities{path.suffix}"] = path
    for path in plots.plot_conflicts(students, folder / "gradient_conflicts"):
        made[f"gradient_conflicts{path.suffix}"] = path
    return made


def _tex_document(sections: list[Section], title: str, summary: list[tuple[str, list[str]]]) -> str:
    body = [r"\documentclass{article}", r"\usepackage{booktabs}", r"\usepackage[margin=2cm]{geometry}",
            r"\usepackage{graphicx}", r"\begin{document}", rf"\section*{{{render.tex_escape(title)}}}",
            r"\begin{itemize}"]
    for head, items in summary:
        body.append(rf"\item {render.tex_escape(head)}")
        if items:
            body.append(r"\begin{itemize}")
            body += [rf"\item {render.tex_escape(item)}" for item in items]
            body.append(r"\end{itemize}")
    body.append(r"\end{itemize}")
    for s in sections:
        body.append(rf"\subsection*{{{render.tex_escape(s.heading)}}}")
        body.append(render.tex_escape(s.intro))
        body.append(render.render_latex(s.table))
    body.append(r"\end{document}")
    return "\n".join(body) + "\n"


def write_report(out: Path, study: str, labels: dict[str, str], *, about: dict[str, Any],
                 settings: Sequence[str], options: StatsOptions | None = None,
                 mechanism: Sequence[dict] = (), metrics: Sequence[str] | None = None) -> dict[str, Path]:
    """Collect the demo's runs and evaluations under ``out`` and write report.md/.tex/.html + figures."""
    collected = label_evaluations(collect(out), labels)
    sections = build_sections(collected, study, options=options, settings=settings, steps=about.get("steps"),
                              metrics=metrics)
    students = collected.subset([r for r in collected.runs["run_id"] if collected.infos[r].get("kind") != "eval"])
    figures = _figures(sections, students, out / "figures")
    found = summary(sections)
    title = "Mini Drive-KD on the embedded default (tiny zoo, synthetic driving data)"
    written = dict(figures)

    md = [f"# {title}", "", about["intro"], "", "## What was and was not significant", "", *summary_lines(sections), ""]
    for s in sections:
        md += [f"## {s.heading}", "", s.intro, "", render.render_markdown(s.table).strip(), ""]
    shares = gradient_share_rows(students, label="description")
    if shares:
        md += ["## How much each objective steers the update", "",
               "Each distillation objective's gradient norm as a share of CE's (weights and mixing applied), "
               "over the logged steps of each run (docs/reporting.md).", "",
               render_gradient_shares_markdown(shares).strip(), ""]
    if mechanism:
        md += ["## The mechanism: where the models look", "", MECHANISM_INTRO, ""]
        for family in dict.fromkeys(r["family"] for r in mechanism):
            md += [f"### {family}", "",
                   render_mechanism_markdown([r for r in mechanism if r["family"] == family]).strip(), ""]
    md += ["## Figures", ""]
    md += [f"![{key.rsplit('.', 1)[0]}]({p.relative_to(out).as_posix()})" for key, p in figures.items()
           if key.endswith(".png")]
    md += ["", "## How this was made", "", *about["how"], ""]
    written["md"] = out / "report.md"
    atomic_write_text(written["md"], "\n".join(md))

    written["findings"] = write_findings(out / "findings.json", [s.table for s in sections], study=study,
                                         title=title, extra=mechanism_findings(mechanism))

    written["tex"] = out / "report.tex"
    atomic_write_text(written["tex"], _tex_document(sections, title, found))

    pngs = [{"src": p.relative_to(out).as_posix(), "title": key.rsplit(".", 1)[0].replace("_", " ")}
            for key, p in figures.items() if key.endswith(".png")]
    written["html"] = out / "report.html"
    atomic_write_text(written["html"], render.render_html([s.table for s in sections], title=title,
                                                          description=about["intro"], figures=pngs, summary=found,
                                                          sections=[(s.heading, s.intro) for s in sections]))
    for s in sections:
        path = out / "tables" / f"{s.table.spec.name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, render.render_csv(s.table))
        written[f"csv:{s.key}"] = path
    return written


def stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
