"""Tables → text: LaTeX (booktabs), Markdown, a standalone HTML page, CSV, and the terminal.

The layout is in jinja2 templates (templates/*.j2); this module only turns each
cell into text for one format (number, ± half-interval, bold for the best value,
↑/↓ for a significant difference from the baseline) and escapes labels.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup
from tabulate import tabulate

from harness.report.spec import ACCURACY_METRICS, EFFICIENCY_METRICS, METRIC_TITLES
from harness.report.tables import Cell, Table

FORMATS = ("md", "tex", "html", "csv")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)

_TEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


_TEX_UNICODE = {"±": r"$\pm$", "α": r"$\alpha$", "Δ": r"$\Delta$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
                "–": "--", "—": "---", "×": r"$\times$", "…": r"\dots{}"}


def tex_escape(text: str) -> str:
    """Escape LaTeX specials and spell the few non-ASCII symbols captions use as math."""
    text = re.sub(r"[&%$#_{}~^\\]", lambda m: _TEX_SPECIAL[m.group()], str(text))
    return "".join(_TEX_UNICODE.get(ch, ch) for ch in text)


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def number(cell: Cell, metric: str) -> tuple[str, str | None]:
    """(value, ± half-interval or None) as text, in the metric's unit."""
    if not math.isfinite(cell.value):
        return "n/a", None
    if metric in EFFICIENCY_METRICS:
        digits = 2 if metric == "first_token_latency_s" else 1
        return f"{cell.value:.{digits}f}", None
    scale = 100.0 if metric in ACCURACY_METRICS else 1.0
    value = f"{scale * cell.value:.2f}"
    if math.isfinite(cell.ci_low) and math.isfinite(cell.ci_high):
        return value, f"{scale * (cell.ci_high - cell.ci_low) / 2:.2f}"
    return value, None


def cell_text(cell: Cell | None, metric: str, fmt: str) -> str:
    if cell is None:
        return "–" if fmt != "tex" else "--"
    value, half = number(cell, metric)
    mark = {1: "↑", -1: "↓", 0: ""}[cell.direction]
    if fmt == "tex":
        body = rf"\textbf{{{value}}}" if cell.best else value
        if half is not None:
            body += rf"\,{{\scriptsize$\pm${half}}}"
        if mark:
            body += r"$^{\uparrow}$" if cell.direction > 0 else r"$^{\downarrow}$"
        return body
    if fmt == "html":
        body = f"<strong>{value}</strong>" if cell.best else value
        if half is not None:
            body += f" ± {half}"
        if mark:
            body += f' <span class="{"up" if cell.direction > 0 else "down"}">{mark}</span>'
        return body
    body = f"**{value}**" if cell.best and fmt == "md" else value
    if half is not None:
        body += f" ± {half}"
    return body + (f" {mark}" if mark else "")


@dataclass
class _Column:
    group: str
    metric: str
    title: str


def _sectioned(table: Table) -> bool:
    """Column groups that never share a row (Table 1: each method row belongs to one
    family and scale) read better as row sections than as mostly empty column blocks."""
    if not any(table.groups) or len(table.groups) < 2:
        return False
    for row in table.rows:
        present = {g for g in table.groups if any(table.cell(row, g, m) for m in table.metrics)}
        if len(present) > 1:
            return False
    return True


def view(table: Table, fmt: str) -> dict[str, Any]:
    """What a template needs: columns (grouped), header groups, body rows, caption, notes.

    Body entries are rows ``{"label", "cells"}`` or section headers ``{"section"}``.
    """
    esc = {"tex": tex_escape, "md": _md_escape}.get(fmt, lambda s: s)
    sectioned = _sectioned(table)
    grouped = any(table.groups) and not sectioned
    columns, groups = [], []
    for group in (table.groups if grouped else [""]):
        first = len(columns) + 2  # column 1 holds the row labels (LaTeX \cmidrule counts from 1)
        for metric in table.metrics:
            title = METRIC_TITLES[metric]
            if grouped and fmt in ("md", "term"):
                title = f"{group}: {title}"
            columns.append(_Column(group, metric, esc(title)))
        last = len(columns) + 1
        groups.append({"title": esc(group), "span": len(table.metrics), "first": first, "last": last,
                       "cell": rf"\multicolumn{{{len(table.metrics)}}}{{c}}{{{esc(group)}}}",
                       "rule": rf"\cmidrule(lr){{{first}-{last}}}"})
    body: list[dict[str, Any]] = []
    for section in (table.groups if sectioned else [None]):
        rows = []
        for row in table.rows:
            keys = [(section if sectioned else c.group, c.metric) for c in columns]
            if all(table.cell(row, g, m) is None for g, m in keys):
                continue
            label = esc(row) + (" (baseline)" if row == table.baseline else "")
            rows.append({"label": label, "cells": [cell_text(table.cell(row, g, m), m, fmt) for g, m in keys]})
        if sectioned and rows:
            body.append({"section": esc(section), "span": len(columns) + 1})
        body.extend(rows)
    return {
        "title": esc(_title(table)),
        "label": re.sub(r"[^A-Za-z0-9:_-]+", "-", table.spec.name),
        "row_header": esc(table.spec.rows),
        "columns": columns,
        "groups": groups if grouped and fmt not in ("md", "term") else [],
        "body": body,
        "caption": esc(table.caption),
        "notes": [esc(n) for n in table.notes],
    }


def setting_words(table: Table) -> str:
    """'setting clean', or for a table whose rows are settings, the settings it shows."""
    if table.spec.kind == "settings":
        shown = list(table.spec.settings) or [r for r in table.rows]
        return f"across settings: {', '.join(shown)}"
    return f"setting {table.setting}"


def _title(table: Table) -> str:
    return f"{table.spec.name} ({table.spec.kind}, {setting_words(table)})"


def render_markdown(table: Table) -> str:
    return _ENV.get_template("table.md.j2").render(**view(table, "md"))


def render_latex(table: Table) -> str:
    return _ENV.get_template("table.tex.j2").render(**view(table, "tex"))


def markdown_html(text: str) -> Markup:
    """Markdown prose (descriptions, intros) as HTML; raw HTML in it is escaped, never passed through."""
    from markdown_it import MarkdownIt

    return Markup(MarkdownIt("commonmark", {"html": False}).render(text or ""))


def render_html(tables: list[Table], title: str, description: str = "", figures: list[dict] | None = None,
                summary: list[tuple[str, list[str]]] | None = None,
                summary_title: str = "What was and was not significant",
                sections: list[tuple[str, str]] | None = None) -> str:
    """One page: title, description, an optional summary list ``[(line, [sub-lines])]``, tables, figures.

    ``description`` and the intros of ``sections`` (one ``(heading, intro)`` per table)
    are Markdown and rendered as such; summary lines may use Markdown inline code.
    """
    # autoescape covers labels, captions and notes; cells are markup built here from numbers
    # only, and Markdown is rendered with raw HTML disabled (both are marked safe)
    views = [view(t, "html") for t in tables]
    for v, (heading, intro) in zip(views, sections or []):
        v["heading"], v["intro"] = heading, markdown_html(intro)
    inline = [(_inline(head), [_inline(i) for i in items]) for head, items in (summary or [])]
    return _ENV.get_template("report.html.j2").render(title=title, description=markdown_html(description),
                                                      tables=views, figures=figures or [], summary=inline,
                                                      summary_title=summary_title)


def _inline(text: str) -> Markup:
    from markdown_it import MarkdownIt

    return Markup(MarkdownIt("commonmark", {"html": False}).renderInline(text))


def render_csv(table: Table) -> str:
    return table.to_frame().to_csv(index=False)


def render_terminal(table: Table) -> str:
    v = view(table, "term")
    rows = [[f"[{r['section']}]", *[""] * len(v["columns"])] if "section" in r else [r["label"], *r["cells"]]
            for r in v["body"]]
    text = tabulate(rows, headers=[v["row_header"], *[c.title for c in v["columns"]]], tablefmt="simple",
                    disable_numparse=True)
    return f"{v['title']}\n{text}\n"
