"""The caption of a table: what the numbers are, how they were tested, and what was found.

A reader should not need the code to know what a mark means, so the caption names
the judge and setting, the interval, the test(s), the correction, α, the number of
comparisons, seeds and items — and says plainly which differences were significant
and that the others were not. It claims nothing beyond that.
"""

from __future__ import annotations

import math

from harness.report.spec import ACCURACY_METRICS, EFFICIENCY_METRICS, METRIC_TITLES, SCORE_METRICS, UNIT_WORDS
from harness.report.stats import CORRECTIONS


# Below this many items per capability a bootstrap over items says little.
SMALL_SAMPLE = 20


def _range(values) -> str:
    values = sorted(set(values))
    if not values:
        return "0"
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def system_label(row: str, group: str) -> str:
    """How a table's system is named in prose: its row, and its column group if any."""
    return f"{row} ({group})" if group else row


def _rows_are_settings(table) -> bool:
    """A ``settings`` table whose rows are the evaluation settings (its usual layout)."""
    return table.spec.kind == "settings" and table.spec.rows == "setting"


def _where_scored(table) -> str:
    if table.spec.kind == "settings":
        return "settings " + ", ".join(table.spec.settings)
    return f"setting {table.setting}"


def _across_settings(table) -> str:
    """Why rows of one model in different settings may share a table, said once."""
    if _rows_are_settings(table):
        return ("Rows are evaluation settings, not different systems: within a column group every row holds the "
                "same runs (same models and seeds), scored on the same items in another setting.")
    return ("The same runs were scored on the same items in each setting shown; "
            "the field 'setting' tells them apart.")


def caption(table) -> str:
    """One paragraph; the user's own caption, if any, comes first."""
    parts: list[str] = []
    if table.spec.caption:
        parts.append(table.spec.caption.strip().rstrip(".") + ".")
    level = int(round(table.options.confidence * 100))
    scored = [m for m in table.metrics if m in SCORE_METRICS]
    if scored:
        parts.append(f"Scores are mean judge scores (0–100; judge {table.judge_id or 'unknown'}; "
                     f"{_where_scored(table)}); Avg. is the mean of perception, reasoning and planning; "
                     f"± is half the width of a {level}% bootstrap percentile interval.")
    if table.spec.kind == "settings":
        parts.append(_across_settings(table))
    if any(m in ACCURACY_METRICS for m in table.metrics):
        parts.append(accuracy_sentence(table.metrics))
    if any(m in EFFICIENCY_METRICS for m in table.metrics):
        parts.append("Memory, tokens/s and first-token latency are one measurement per run (mean over seeds) "
                     "and are not tested.")
    parts.append("Bold marks the best value of each column" + (" within each column group" if any(table.groups) else "")
                 + " (none when all rows tie).")
    n_items = ", ".join(f"{cap} {n}" for cap, n in table.items.items())
    unit = "model" if _rows_are_settings(table) else "system"
    parts.append(f"Seeds per {unit}: {_range(table.seeds.values())}; items per capability: {n_items}.")
    fewest = min((n for n in table.items.values() if n), default=0)
    if scored and 0 < fewest < SMALL_SAMPLE:
        parts.append(f"With fewer than {SMALL_SAMPLE} items in a capability the bootstrap intervals are too narrow "
                     "and the tests unreliable; read these numbers as a smoke test.")
    elif scored and table.unit != "item" and 0 < table.n_clusters < SMALL_SAMPLE:
        parts.append(f"With fewer than {SMALL_SAMPLE} {UNIT_WORDS[table.unit]} to resample the bootstrap intervals "
                     "are too narrow and the tests unreliable; read these numbers as a smoke test.")
    if scored or any(m in ACCURACY_METRICS for m in table.metrics):
        parts.append(unit_sentence(table))
    parts.append(_significance(table))
    if table.mde:
        parts.append(mde_sentence(table))
    return " ".join(parts)


def unit_sentence(table) -> str:
    """Which unit the bootstraps resampled, and how many of them there were."""
    several = any(n > 1 for n in table.seeds.values())
    above = "; seeds are resampled above them" if several else ""
    if table.unit != "item":
        return (f"Resampling unit: {UNIT_WORDS[table.unit]} ({table.unit}; {table.n_clusters} in this table), each "
                f"with its questions kept together{above}.")
    if table.unit_note:
        return (f"Resampling unit: items, because {table.unit_note}; questions about one frame are correlated, so "
                f"these intervals are too narrow and the tests too eager{above}.")
    return (f"Resampling unit: items (as asked; if questions come in frames, these intervals are too narrow)"
            f"{above}.")


def mde_sentence(table) -> str:
    """The smallest difference each tested metric could reliably show, from the table's own standard errors."""
    power = int(round(table.options.power * 100))
    figures = ", ".join(f"{METRIC_TITLES[m]} {signed(v, m).lstrip('+')}" for m, v in table.mde.items())
    return (f"Minimum detectable effect ({power}% power, α = {table.options.alpha:g} two-sided before correction, "
            f"median over comparisons): {figures}; smaller true differences are more likely missed than found.")


def _significance(table) -> str:
    if table.baseline is None:
        return ("No baseline was named, so no difference was tested and no minimum detectable effect can be "
                "stated; the intervals are per system.")
    settings = _rows_are_settings(table)
    if table.n_comparisons == 0:
        if settings:
            return (f"Baseline setting: {table.baseline}. No comparison could be made "
                    "(no other setting shares its group).")
        return f"Baseline: {table.baseline}. No comparison could be made (no other system shares its group)."
    correction = CORRECTIONS[table.options.correction][1]
    tests = "; ".join(table.tests)
    who = (f"Each setting is compared with the baseline setting '{table.baseline}' of the same column group, "
           "paired on items," if settings else
           f"Each system is compared with the baseline '{table.baseline}' of its column group")
    than = f"in {table.baseline}" if settings else "the baseline"
    head = (f"{who} by {tests} "
            f"({table.options.n_resamples:,} resamples where bootstrapped; two-sided), with {correction} "
            f"correction over all {table.n_comparisons} comparisons in this table at α = {table.options.alpha:g}; "
            f"↑/↓ mark a significantly higher/lower value than {than}.")
    found = []
    for (row, group, metric), cell in table.cells.items():
        if cell.significant:
            sign = "higher" if cell.diff > 0 else "lower"
            effect = f", d_z = {cell.effect_size:.2f}" if math.isfinite(cell.effect_size) else ""
            found.append(f"{system_label(row, group)} {METRIC_TITLES[metric]} {sign} "
                         f"(Δ = {signed(cell.diff, metric)}{effect}, adjusted p = {cell.p_adjusted:.3g})")
    if not found:
        return head + f" None of the {table.n_comparisons} differences is significant."
    rest = table.n_comparisons - len(found)
    tail = f" The other {rest} difference(s) are not significant." if rest else " Every tested difference is significant."
    return head + " Significant: " + "; ".join(found) + "." + tail


def accuracy_sentence(metrics) -> str:
    """What the table's accuracy columns are over, and how the closed answers were read."""
    words = []
    if any(m.startswith("mcq_") for m in metrics):
        words.append("MCQ accuracy is in percent over multiple-choice items")
    if any(m.startswith("closed_") for m in metrics):
        words.append("closed accuracy is in percent over multiple-choice and yes/no items, read from the generated "
                     "text by the strict parser (parsed) or taken as the option whose answer the model finds most "
                     "likely (ranked)")
    return "; ".join(words)[0].upper() + "; ".join(words)[1:] + "."


def signed(value: float, metric: str) -> str:
    """A difference as prose: accuracy in percentage points, scores with a sign and two decimals."""
    if not math.isfinite(value):
        return "n/a"
    if metric in ACCURACY_METRICS:
        return f"{100 * value:+.1f} points"
    return f"{value:+.2f}"
