"""The mechanism table: where each model looks and how closely each student's maps follow its teacher's.

Input: each system's captured text-to-vision blocks on the same held-out items
(:func:`harness.eval.attention_maps.capture_text_to_vision`) and, optionally, the
teacher's. One row per system × layer: the share of its text-to-vision attention on
the referred object, the prior (uniform attention's share), the lift with its
interval and p-value (Holm-adjusted over the table's lifts), the row entropy, and
against the teacher the map MSE, correlation and row-normalised correlation. The
math is :mod:`harness.eval.mechanism`; this module only arranges and renders it.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from tabulate import tabulate

from harness.eval.mechanism import AGREEMENT, ItemMaps, agreement, localisation
from harness.report import stats

LAYERS = ("first", "penultimate")


def mechanism_rows(systems: Mapping[str, Sequence[ItemMaps]], teacher: Sequence[ItemMaps] | None = None, *,
                   layers: Sequence[str] = LAYERS, teacher_layers: Sequence[str] = (), correction: str = "holm",
                   **options) -> list[dict]:
    """One JSON-able dict per (system, layer); ``options`` go to the bootstraps (``n_resamples``, ``seed``).

    ``teacher_layers``: more layers at which only the teacher's localisation is measured (its maps
    must hold them): where a teacher looks need not be a layer the students are compared at.
    Their lifts are corrected together with the others."""
    rows = []
    for name, maps in systems.items():
        extra = [layer for layer in teacher_layers if layer not in layers] if maps is teacher else []
        for layer in (*layers, *extra):
            where = localisation(maps, layer, **options)
            row = {"system": name, "layer": layer,
                   **{key: where[key].to_dict() for key in ("share", "prior", "lift", "row_entropy")}}
            if teacher is not None and maps is not teacher:
                agree = agreement(maps, teacher, layer, **options)
                row.update({key: agree[key].to_dict() for key in AGREEMENT})
            rows.append(row)
    tested = [i for i, r in enumerate(rows) if r["lift"]["p_value"] is not None]
    adjusted = stats.adjust(np.array([rows[i]["lift"]["p_value"] for i in tested]), correction) if tested else []
    for i, p in zip(tested, adjusted):
        rows[i]["lift"]["p_adjusted"] = float(p)
    return rows


def _interval(est: dict | None, digits: int = 3) -> str:
    if not est or est.get("mean") is None:
        return "—"
    text = f"{est['mean']:.{digits}f}"
    if est.get("ci_low") is not None and est.get("ci_high") is not None:
        text += f" [{est['ci_low']:.{digits}f}, {est['ci_high']:.{digits}f}]"
    return text


def _p(est: dict) -> str:
    p = est.get("p_adjusted", est.get("p_value"))
    return "—" if p is None or (isinstance(p, float) and math.isnan(p)) else f"{p:.2g}"


def render_mechanism_markdown(rows: Sequence[dict]) -> str:
    """A Markdown table of :func:`mechanism_rows` (mean [95% interval]; p adjusted over the lifts)."""
    headers = ["system", "layer", "share on object", "prior", "lift", "p (adj.)", "row entropy",
               "MSE vs teacher", "r vs teacher", "r (where) vs teacher", "items"]
    body = []
    for r in rows:
        body.append([r["system"], r["layer"], _interval(r["share"]), _interval(r["prior"]), _interval(r["lift"]),
                     _p(r["lift"]), _interval(r["row_entropy"]), _interval(r.get("mse"), 5),
                     _interval(r.get("corr")), _interval(r.get("corr_where")), r["share"]["n_items"]])
    return tabulate(body, headers=headers, tablefmt="github") + "\n"


def mechanism_findings(rows: Sequence[dict], *, alpha: float = 0.05, correction: str = "holm") -> list[dict]:
    """findings.json entries (:mod:`harness.report.findings`' shape) for each row's lift test:
    the share on the referred object against its prior, per family, system and layer."""
    from collections import Counter

    from harness.report.tables import significance_direction

    tested = [r for r in rows if r["lift"].get("p_value") is not None]
    per_family = Counter(r.get("family") for r in tested)
    out = []
    for r in tested:
        lift = r["lift"]
        p_adj = lift.get("p_adjusted", lift["p_value"])
        significant = bool(p_adj is not None and p_adj < alpha)
        out.append({
            "table": "mechanism", "kind": "mechanism", "setting": "clean", "group": r.get("family"),
            "family": r.get("family"), "metric": f"object_share@{r['layer']}", "treatment": r["system"],
            "baseline": "prior (uniform attention)", "value": r["share"]["mean"],
            "baseline_value": r["prior"]["mean"], "difference": lift["mean"], "ci_low": lift["ci_low"],
            "ci_high": lift["ci_high"], "confidence": 0.95, "p_value": lift["p_value"], "p_adjusted": p_adj,
            "significant": significant, "direction": significance_direction(significant, lift["mean"]),
            "correction": correction, "alpha": alpha, "test": "paired bootstrap", "unit": lift["unit"],
            "n_units": lift["n_units"], "n_items": lift["n_items"], "n_seeds": 1,
            "n_comparisons_in_table": per_family[r.get("family")],
            "judge_id": None,
        })
    return out
