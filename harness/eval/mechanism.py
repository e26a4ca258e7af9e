"""Does a model look where the question points, and does a student look where its teacher does?

Pure math on text-to-vision attention blocks (rows: text tokens after the image,
columns: image tokens; what :mod:`harness.eval.attention_maps` captures), no model, no I/O:

- :func:`box_cells` / :func:`point_cells`: which image tokens a referred object covers.
  Image tokens form a row-major grid per image (the family adapter's
  ``image_token_grids``); a token belongs to the object when its cell overlaps the
  object's box by any area (a box is never empty of tokens: even a box inside one cell
  owns that cell). Real DriveBench references carry only the object's centre, so
  :func:`point_cells` takes the one cell holding it.
- :func:`object_share`: of all the attention the rows give to image tokens, the share
  on the object's tokens (pooled over rows, so each row counts by how much it looks at
  the image at all: the share is the *where*, not the *how much*), and its *prior*:
  the share uniform attention over the image tokens would give, i.e. the object's
  fraction of image tokens. ``lift = share − prior`` is 0 for a model that does not
  look at the object any more than anywhere else.
- :func:`map_agreement`: per item, the mean squared difference and the Pearson
  correlation of a student's and a teacher's blocks (same token layout), and the
  correlation of the row-normalised blocks (where the rows look, not how much).
- :func:`row_entropy`: how flat each row's distribution over the image tokens is
  (1 = uniform), averaged over rows.
- :func:`mean_estimate` / :func:`paired_estimate`: an average over items with a
  bootstrap interval that resamples clusters (DriveBench frames) when given, and for
  a paired difference (share vs prior, or system vs system) its two-sided bootstrap
  p-value, through the report's statistics (:mod:`harness.report.stats`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from harness.report import stats

N_RESAMPLES = 10_000
AGREEMENT = ("mse", "corr", "corr_where")  # the columns of per_item_agreement


def box_cells(box: Sequence[float], grid: tuple[int, int]) -> np.ndarray:
    """Bool (rows·columns,), row-major: the grid cells a normalised box (x0, y0, x1, y1) overlaps.

    The box is clipped to the image; a box of zero area (or wholly outside) covers
    the cell its clipped corner falls in, so a referred object always owns a token.
    """
    rows, cols = int(grid[0]), int(grid[1])
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    col_lo, col_hi = np.arange(cols) / cols, np.arange(1, cols + 1) / cols
    row_lo, row_hi = np.arange(rows) / rows, np.arange(1, rows + 1) / rows
    in_cols = (col_lo < x1) & (col_hi > x0)
    in_rows = (row_lo < y1) & (row_hi > y0)
    if not in_cols.any():
        in_cols = _holding(x0, cols)
    if not in_rows.any():
        in_rows = _holding(y0, rows)
    return (in_rows[:, None] & in_cols[None, :]).reshape(-1)


def _holding(v: float, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[min(int(v * n), n - 1)] = True
    return out


def point_cells(x: float, y: float, grid: tuple[int, int]) -> np.ndarray:
    """Bool (rows·columns,), row-major: the one cell holding the normalised point (x, y)."""
    rows, cols = int(grid[0]), int(grid[1])
    out = np.zeros((rows, cols), dtype=bool)
    out[min(int(min(max(y, 0.0), 1.0) * rows), rows - 1), min(int(min(max(x, 0.0), 1.0) * cols), cols - 1)] = True
    return out.reshape(-1)


def object_share(block: np.ndarray, on_object: np.ndarray) -> tuple[float, float]:
    """(share, prior) of one item's text-to-vision block [rows, image tokens] on the object's columns.

    share = Σ_rows Σ_object A / Σ_rows Σ_image A (NaN when the rows give the image no
    attention at all); prior = object columns / image columns.
    """
    block = np.asarray(block, dtype=np.float64)
    on_object = np.asarray(on_object, dtype=bool)
    if block.ndim != 2 or block.shape[1] != on_object.shape[0]:
        raise ValueError(f"object_share: a block of shape {block.shape} and {on_object.shape[0]} object flags")
    total = block.sum()
    share = float(block[:, on_object].sum() / total) if total > 0 else math.nan
    return share, float(on_object.mean())


def row_entropy(block: np.ndarray) -> float:
    """Mean over rows of the entropy of the row's distribution over image tokens, divided by log(columns)."""
    block = np.asarray(block, dtype=np.float64)
    if block.shape[1] < 2:
        return math.nan
    mass = block.sum(axis=1, keepdims=True)
    keep = mass[:, 0] > 0
    if not keep.any():
        return math.nan
    p = block[keep] / mass[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return float(h.mean() / math.log(block.shape[1]))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two equally long vectors; NaN when either is constant."""
    da, db = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db) / denom if denom > 0 else math.nan


def map_agreement(student: np.ndarray, teacher: np.ndarray) -> tuple[float, float, float]:
    """(MSE, Pearson r, Pearson r of the row-normalised blocks) between two blocks of one item.

    The plain correlation is dominated by how much each row attends to the image as a
    whole (which varies a lot along a causal sequence); the third number divides each
    row by its image mass first, so it compares only *where* on the image the rows look.
    """
    a = np.asarray(student, dtype=np.float64)
    b = np.asarray(teacher, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"map_agreement: blocks of shapes {a.shape} and {b.shape} differ; "
                         "student and teacher must see the same token layout")
    mse = float(np.mean((a - b) ** 2)) if a.size else math.nan
    keep = (a.sum(axis=1) > 0) & (b.sum(axis=1) > 0) if a.ndim == 2 else np.zeros(0, dtype=bool)
    if keep.any():
        where = pearson((a[keep] / a[keep].sum(axis=1, keepdims=True)).ravel(),
                        (b[keep] / b[keep].sum(axis=1, keepdims=True)).ravel())
    else:
        where = math.nan
    return mse, pearson(a.ravel(), b.ravel()), where


@dataclass(frozen=True)
class Estimate:
    """An average over items with its bootstrap interval; for a difference also its p-value."""

    mean: float
    ci_low: float
    ci_high: float
    n_items: int
    n_units: int  # resampled units: clusters, or items when none were given
    unit: str  # what was resampled: "clusters" or "items"
    p_value: float = math.nan  # two-sided, H0: mean = 0 (differences only)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def _clean(values, clusters):
    values = np.asarray(values, dtype=np.float64)
    labels = None if clusters is None else np.asarray(clusters, dtype=object)
    if labels is not None and labels.shape != values.shape:
        raise ValueError(f"{labels.shape[0]} cluster labels for {values.shape[0]} items")
    keep = np.isfinite(values)
    return values[keep], (None if labels is None else labels[keep])


def mean_estimate(values, clusters=None, *, n_resamples: int = N_RESAMPLES, seed: int = 0,
                  confidence: float = 0.95) -> Estimate:
    """The mean of per-item ``values`` (NaN left out) with a percentile bootstrap interval."""
    values, labels = _clean(values, clusters)
    if values.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, 0, "items" if clusters is None else "clusters")
    draws = stats.bootstrap_means(values[None, :], n_resamples, seed, clusters=labels)
    lo, hi = stats.percentile_interval(draws, confidence)
    units = values.size if labels is None else len(set(labels.tolist()))
    return Estimate(float(values.mean()), float(lo[0]), float(hi[0]), int(values.size), int(units),
                    "items" if labels is None else "clusters")


#: Differences below this fraction of the values compared are float rounding, not an effect.
ROUNDING = 1e-6


def rounding_as_zero(diffs: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``diffs`` with entries that are only rounding (|a − b| ≤ ROUNDING · max(|a|, |b|)) set to 0.

    Why: uniform attention's share on an object equals the object's fraction of tokens
    only up to float32 rounding (differences near 1e-17). A bootstrap over a constant
    nonzero difference finds it in every resample and calls a lift of 0.000 significant;
    set to zero, the test says what is true, that there is no difference (p = 1).
    """
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.where(np.abs(diffs) <= ROUNDING * scale, 0.0, diffs)


def paired_estimate(a, b, clusters=None, *, n_resamples: int = N_RESAMPLES, seed: int = 0,
                    confidence: float = 0.95) -> Estimate:
    """mean(a − b) over items where both are finite, its interval and two-sided bootstrap p-value."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_estimate: {a.shape[0]} and {b.shape[0]} items; pairs must be aligned")
    diffs, labels = _clean(rounding_as_zero(a - b, a, b), clusters)
    if diffs.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, 0, "items" if clusters is None else "clusters")
    result = stats.paired_bootstrap(diffs, np.zeros_like(diffs), n_resamples, seed, confidence, clusters=labels)
    units = diffs.size if labels is None else len(set(labels.tolist()))
    return Estimate(float(result.mean_diff), float(result.ci_low), float(result.ci_high), int(diffs.size),
                    int(units), "items" if labels is None else "clusters", float(result.p_value))


# -- per-item blocks of one model → the report's figures ---------------------------------
@dataclass
class ItemMaps:
    """One item's text-to-vision blocks, by layer name (``first``, ``penultimate``), as captured.

    ``object_columns`` flags the referred object's image tokens (None: the item names no
    single object); ``input_ids`` is the token layout, which agreement requires to match.
    """

    item_id: str
    cluster: str  # the item's frame (what bootstraps resample); "" when unknown
    blocks: dict[str, np.ndarray]
    layers: dict[str, int]  # layer name → index in this model
    object_columns: np.ndarray | None
    input_ids: tuple[int, ...]


def _clusters(maps: Sequence[ItemMaps]):
    labels = [m.cluster for m in maps]
    return None if not labels or any(not c for c in labels) else np.asarray(labels, dtype=object)


def per_item_shares(maps: Sequence[ItemMaps], layer: str) -> np.ndarray:
    """(items, 2): share and prior per item at ``layer`` (NaN for an item without a referred object),
    in the order given, so two models' shares on the same items pair up for :func:`paired_estimate`."""
    out = [object_share(m.blocks[layer], m.object_columns)
           if m.object_columns is not None and m.object_columns.any() else (math.nan, math.nan) for m in maps]
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def localisation(maps: Sequence[ItemMaps], layer: str, **options) -> dict:
    """Share on the referred object, its prior and the lift (share − prior, paired over items), at ``layer``.

    Items without a referred object are left out (``n_items`` says how many were used).
    Also the mean normalised row entropy of the blocks (1 = flat).
    """
    with_object = [m for m in maps if m.object_columns is not None and m.object_columns.any()]
    pairs = per_item_shares(with_object, layer)
    clusters = _clusters(with_object)
    entropy = np.array([row_entropy(m.blocks[layer]) for m in maps])
    return {
        "layer": layer,
        "share": mean_estimate(pairs[:, 0], clusters, **options),
        "prior": mean_estimate(pairs[:, 1], clusters, **options),
        "lift": paired_estimate(pairs[:, 0], pairs[:, 1], clusters, **options),
        "row_entropy": mean_estimate(entropy, _clusters(maps), **options),
    }


def per_item_agreement(student: Sequence[ItemMaps], teacher: Sequence[ItemMaps], layer: str) -> np.ndarray:
    """(items, 3): MSE, r and row-normalised r per item at ``layer`` (:func:`map_agreement`), items
    matched by id; the token layouts must agree."""
    by_id = {m.item_id: m for m in teacher}
    out = []
    for s in student:
        t = by_id.get(s.item_id)
        if t is None:
            raise ValueError(f"agreement: item {s.item_id!r} has no teacher maps")
        if s.input_ids != t.input_ids:
            raise ValueError(f"agreement: item {s.item_id!r} is tokenised differently by student and teacher; "
                             "their maps cannot be compared entry by entry")
        out.append(map_agreement(s.blocks[layer], t.blocks[layer]))
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def agreement(student: Sequence[ItemMaps], teacher: Sequence[ItemMaps], layer: str, **options) -> dict:
    """Student–teacher map MSE and correlations at ``layer``, averaged over items with intervals."""
    per_item = per_item_agreement(student, teacher, layer)
    clusters = _clusters(student)
    return {"layer": layer, **{name: mean_estimate(per_item[:, k], clusters, **options)
                               for k, name in enumerate(AGREEMENT)}}
