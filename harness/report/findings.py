"""findings.json: every tested comparison of a report, so a program can check what was found.

A report's prose and tables are for people; a claim such as "perception
distillation beats SFT on closed questions in both families" should also be
checkable by a script without parsing Markdown. One entry per tested cell of every
table (a system against its baseline on one metric): which table, column group and
family, metric, treatment and baseline, both values, the difference with its interval,
raw and adjusted p-value, whether it is significant, the test, the resampled unit and
how many units and items it rests on. Entries come straight from the built
:class:`~harness.report.tables.Table` objects, the same numbers the tables print.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from harness.report.tables import Table
from harness.files import atomic_write_json

VERSION = 1
FAMILY_FIELD = "student.family"


def _number(value: float) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _family(table: Table, group: str) -> str | None:
    """The student family of a column group, when the table's groups are made from it."""
    columns = list(table.spec.columns)
    if FAMILY_FIELD not in columns:
        return None
    parts = group.split(" / ")
    return parts[columns.index(FAMILY_FIELD)] if len(parts) == len(columns) else None


def table_findings(table: Table) -> list[dict[str, Any]]:
    """One dict per tested cell of ``table`` (cells with a p-value), in the table's row order."""
    out = []
    order = {row: i for i, row in enumerate(table.rows)}
    keys = sorted((k for k, c in table.cells.items() if math.isfinite(c.p_value)),
                  key=lambda k: (table.groups.index(k[1]) if k[1] in table.groups else 0, order.get(k[0], 0),
                                 table.metrics.index(k[2]) if k[2] in table.metrics else 0))
    for row, group, metric in keys:
        cell = table.cells[(row, group, metric)]
        base = table.cell(table.baseline, group, metric) if table.baseline is not None else None
        out.append({
            "table": table.spec.name, "kind": table.spec.kind, "setting": table.setting,
            "group": group, "family": _family(table, group), "metric": metric,
            "treatment": row, "baseline": table.baseline,
            "value": _number(cell.value), "baseline_value": _number(base.value) if base is not None else None,
            "difference": _number(cell.diff), "ci_low": _number(cell.diff_low), "ci_high": _number(cell.diff_high),
            "confidence": table.options.confidence,
            "p_value": _number(cell.p_value), "p_adjusted": _number(cell.p_adjusted),
            "significant": bool(cell.significant), "direction": cell.direction,
            "correction": table.options.correction, "alpha": table.options.alpha, "test": cell.test,
            "unit": table.unit, "n_units": int(table.n_clusters), "n_items": int(cell.n_items),
            "n_seeds": int(cell.n_seeds), "n_comparisons_in_table": int(table.n_comparisons),
            "judge_id": table.judge_id,
        })
    return out


def findings(tables: Sequence[Table]) -> list[dict[str, Any]]:
    """Every tested comparison of every table, tables in the order given."""
    return [entry for table in tables for entry in table_findings(table)]


def write_findings(path: str | Path, tables: Sequence[Table], *, extra: Sequence[dict[str, Any]] = (),
                   **about: Any) -> Path:
    """Write ``{"version", **about, "findings": [...]}`` atomically to ``path``; returns it.

    ``extra``: entries of the same shape tested outside the tables (the demo's mechanism
    lifts, :func:`harness.report.mechanism.mechanism_findings`), appended after them.
    """
    path = Path(path)
    atomic_write_json(path, {"version": VERSION, **about, "findings": [*findings(tables), *extra]})
    return path
