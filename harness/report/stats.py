"""Significance tests for paper tables: pure, vectorised numpy (no I/O).

Why these tests. A DriveBench table compares systems scored on the SAME items, so
every comparison is paired by item:

- judge scores (0-100, per item) → :func:`paired_bootstrap` over items of the
  per-item differences;
- MCQ correctness (0/1, per item) → :func:`mcnemar_exact` on the discordant pairs
  when pairs are independent (with clusters, the cluster bootstrap of the accuracy
  difference instead: McNemar cannot see that a frame's answers move together);
- systems run with several seeds → :func:`hierarchical_bootstrap`: resample seeds,
  then items within, so both sources of variation enter the interval;
- items that come in clusters (DriveBench: about seven questions per key frame,
  several frames per scene) → pass ``clusters=labels`` to any bootstrap here: whole
  clusters are resampled (each keeps its items together), seeds above them;
- a table makes many comparisons at once → :func:`holm` (default) or
  :func:`benjamini_hochberg` over every comparison in the table.

Bootstrap resampling is expressed as a matrix of resample COUNTS (how often each
item is drawn in each resample), so the means of every system under every
resample are one matrix product, ``counts @ values.T``. That is what makes 20
systems × 1,500 items × 10,000 resamples take seconds (benchmarks/bench_stats.py).
All systems of one call share the same resamples, which is also what a paired
comparison wants.

The two-sided p-value is the percentile-inversion one:
``p = min(1, 2 · min(P*(Δ* ≤ 0), P*(Δ* ≥ 0)))`` with the +1 correction of
Davison & Hinkley (a bootstrap p-value is never exactly 0). It rejects at level α
exactly when the (α/2, 1 − α/2) percentile interval excludes 0, so a significance
mark and its interval never disagree.

Why clusters, and why only one stage. Questions about one frame share its
difficulty, so their differences are correlated; resampling items as if they were
independent makes intervals too narrow (with seven items per frame and an
intra-frame correlation of 0.3 the item bootstrap rejects a true null about a
quarter of the time; tests/report/test_calibration.py). Resampling clusters and
keeping each cluster's items as they are (the one-stage cluster bootstrap) gives
the right variance of a mean over clusters; also resampling items inside each
drawn cluster would count the within-cluster variance twice (Davison & Hinkley
1997, §3.8; Field & Welsh 2007). A cluster's contribution is its sum and its count
of valid items, so a resampled mean is a ratio of two matrix products, exactly as
for items (an item is a cluster of one).

Missing judge verdicts are NaN and excluded pairwise (an item missing in either
system of a pair is dropped from that pair); the number dropped is reported.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import stats as _sp

# Rows of the resample-count matrix built at once: bounds memory to about
# CHUNK × n_items × 8 bytes whatever n_resamples is.
_CHUNK = 1024


@dataclass(frozen=True)
class Comparison:
    """One system against its baseline (arrays when several systems were compared at once)."""

    mean_diff: np.ndarray  # observed mean(a − b) over the pairs both scored
    ci_low: np.ndarray  # percentile interval of the bootstrap distribution of mean(a − b)
    ci_high: np.ndarray
    p_value: np.ndarray  # two-sided, percentile inversion (see module docstring)
    effect_size: np.ndarray  # paired Cohen's d_z = mean(a − b) / sd(a − b)
    n_items: np.ndarray  # pairs used
    n_missing: np.ndarray  # pairs dropped because either verdict was NaN
    n_resamples: int
    confidence: float
    test: str
    standard_error: np.ndarray | float = np.nan  # sd of the bootstrap draws of mean(a − b)
    n_clusters: np.ndarray | int = 0  # resampled units (clusters, or items when none were given)


@contextmanager
def _quiet():
    """Silence numpy's empty-slice warnings: an all-missing row is NaN by design here."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def resample_counts(n_items: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(n_resamples, n_items) counts of a uniform draw of n_items items with replacement.

    Equivalent to indexing with ``rng.integers(0, n, (R, n))`` and counting per row;
    done with one bincount over offset indices, so there is no Python loop.
    """
    idx = rng.integers(0, n_items, size=(n_resamples, n_items))
    idx += (np.arange(n_resamples) * n_items)[:, None]
    return np.bincount(idx.ravel(), minlength=n_resamples * n_items).reshape(n_resamples, n_items)


def _chunks(n_resamples: int):
    start = 0
    while start < n_resamples:
        stop = min(n_resamples, start + _CHUNK)
        yield start, stop
        start = stop


def cluster_index(clusters, n_items: int, universe=None) -> tuple[np.ndarray, int]:
    """(code per item, number of units) for resampling; ``clusters=None`` makes every item its own unit.

    ``universe`` lists every cluster label resamples draw from (default: the labels
    present). Several calls with the same universe and seed draw the same clusters,
    which is how the capabilities of one Avg. are resampled jointly: a frame's
    perception and planning questions are drawn together.
    """
    if clusters is None:
        return np.arange(n_items), n_items
    labels = np.asarray(clusters)
    if labels.shape != (n_items,):
        raise ValueError(f"clusters: {labels.shape[0] if labels.ndim else 0} labels for {n_items} items")
    if universe is None:
        universe, codes = np.unique(labels, return_inverse=True)
        return codes.reshape(-1), len(universe)
    universe = np.asarray(universe)
    order = np.argsort(universe, kind="stable")
    where = np.searchsorted(universe[order], labels)
    where = np.clip(where, 0, len(universe) - 1)
    codes = order[where]
    if not np.all(universe[codes] == labels):
        missing = labels[universe[codes] != labels][0]
        raise ValueError(f"clusters: label {missing!r} is not in the universe")
    return codes, len(universe)


def unit_totals(values: np.ndarray, codes: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (cluster) sums of the valid values and counts of them: (S, N) → two (S, C) arrays."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    valid = np.isfinite(values)
    filled = np.where(valid, values, 0.0)
    if n_units == values.shape[1] and np.array_equal(codes, np.arange(n_units)):
        return filled, valid.astype(np.float64)
    member = np.zeros((values.shape[1], n_units))
    member[np.arange(values.shape[1]), codes] = 1.0
    return filled @ member, valid.astype(np.float64) @ member


def bootstrap_means(values: np.ndarray, n_resamples: int, seed: int = 0, *, clusters=None,
                    universe=None) -> np.ndarray:
    """Bootstrap distribution of each row's NaN-aware mean: (S, N) → (S, R).

    Items — or, with ``clusters`` (one label per item), whole clusters — are
    resampled jointly for all rows (shared resamples). A resample in which a row
    has no valid item gives NaN for that row.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    codes, n_units = cluster_index(clusters, values.shape[1], universe)
    sums, used = unit_totals(values, codes, n_units)
    rng = np.random.default_rng(seed)
    out = np.empty((values.shape[0], n_resamples), dtype=np.float64)
    for start, stop in _chunks(n_resamples):
        counts = resample_counts(n_units, stop - start, rng).astype(np.float64)
        total = counts @ sums.T  # (r, S)
        weight = counts @ used.T
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, start:stop] = (total / weight).T
    return out


def percentile_p_value(boot: np.ndarray) -> np.ndarray:
    """Two-sided p-value of H0: Δ = 0 from bootstrap draws of Δ (last axis = resamples)."""
    boot = np.asarray(boot, dtype=np.float64)
    finite = np.isfinite(boot)
    r = finite.sum(axis=-1)
    low = ((boot <= 0) & finite).sum(axis=-1)
    high = ((boot >= 0) & finite).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2.0 * np.minimum(low + 1, high + 1) / (r + 1)
    return np.where(r > 0, np.minimum(1.0, p), np.nan)


def percentile_interval(boot: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile interval along the last axis, ignoring NaN draws."""
    tail = (1.0 - confidence) / 2.0
    with _quiet():
        lo = np.nanquantile(boot, tail, axis=-1) if np.isfinite(boot).any() else np.full(boot.shape[:-1], np.nan)
        hi = np.nanquantile(boot, 1.0 - tail, axis=-1) if np.isfinite(boot).any() else np.full(boot.shape[:-1], np.nan)
    return np.asarray(lo), np.asarray(hi)


def paired_cohens_d(diffs: np.ndarray) -> np.ndarray:
    """Paired effect size d_z = mean / sd (ddof=1) of the differences per row, NaN-aware.

    0 when every difference is 0 (no effect), ±inf is avoided by returning NaN for a
    non-zero mean with zero spread (a degenerate, not an infinite, effect).
    """
    diffs = np.atleast_2d(np.asarray(diffs, dtype=np.float64))
    n = np.isfinite(diffs).sum(axis=1)
    with _quiet():
        mean = np.nanmean(np.where(n[:, None] > 0, diffs, 0.0), axis=1)
        sd = np.nanstd(diffs, axis=1, ddof=1) if diffs.shape[1] > 1 else np.full(diffs.shape[0], np.nan)
        d = mean / sd
    d = np.where((sd == 0) & (mean == 0), 0.0, d)
    return np.where(np.isfinite(d), d, np.nan)


def test_name(kind: str, clusters) -> str:
    """How a test is named in captions: ``paired bootstrap over items`` / ``... over clusters``."""
    unit = "items" if clusters is None else "clusters"
    if kind == "hierarchical":
        return f"hierarchical bootstrap (seeds, then {unit})"
    return f"paired bootstrap over {unit}"


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    clusters=None,
) -> Comparison:
    """Paired bootstrap of mean(a − b) over items, or over clusters of items.

    ``a`` is (N,) or (S, N) — S systems — and ``b`` is (N,) (one baseline) or (S, N).
    Items (columns) must be aligned. NaN in either member of a pair drops the pair.
    ``clusters``: one label per item (e.g. its ``frame_token``); whole clusters are
    resampled, which is what correlated items need. None: every item is its own unit.
    Returns a :class:`Comparison` of arrays of shape (S,) (scalars' arrays for 1-D input).
    """
    a2 = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b2 = np.broadcast_to(np.atleast_2d(np.asarray(b, dtype=np.float64)), a2.shape)
    diffs = a2 - b2  # NaN wherever either is NaN
    boot = bootstrap_means(diffs, n_resamples, seed, clusters=clusters)
    return _summarise(diffs, boot, n_resamples, confidence, test_name("paired", clusters), squeeze=np.ndim(a) == 1,
                      n_clusters=_n_units(clusters, diffs))


def _n_units(clusters, diffs: np.ndarray) -> np.ndarray:
    """Units with at least one valid pair, per row."""
    valid = np.isfinite(diffs)
    if clusters is None:
        return valid.sum(axis=1)
    codes, n_units = cluster_index(clusters, diffs.shape[1])
    _, used = unit_totals(diffs, codes, n_units)
    return (used > 0).sum(axis=1)


def draws_standard_error(boot: np.ndarray) -> np.ndarray:
    """Standard deviation of bootstrap draws (last axis), ignoring NaN draws."""
    with _quiet():
        return np.nanstd(np.asarray(boot, dtype=np.float64), axis=-1, ddof=1)


def _summarise(diffs, boot, n_resamples, confidence, test, *, squeeze, n_clusters=None):
    valid = np.isfinite(diffs)
    n_items = valid.sum(axis=1)
    with np.errstate(invalid="ignore"):
        observed = np.where(n_items > 0, np.nansum(np.where(valid, diffs, 0.0), axis=1) / np.maximum(n_items, 1), np.nan)
    lo, hi = percentile_interval(boot, confidence)
    result = Comparison(
        mean_diff=observed,
        ci_low=lo,
        ci_high=hi,
        p_value=percentile_p_value(boot),
        effect_size=paired_cohens_d(diffs),
        n_items=n_items,
        n_missing=diffs.shape[1] - n_items,
        n_resamples=n_resamples,
        confidence=confidence,
        test=test,
        standard_error=draws_standard_error(boot),
        n_clusters=n_items if n_clusters is None else n_clusters,
    )
    if squeeze:
        return Comparison(**{k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in result.__dict__.items()})
    return result


def hierarchical_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    clusters=None,
) -> Comparison:
    """Two-level bootstrap for systems run with several seeds: seeds, then items (or clusters).

    ``a`` is (Sa, N) — one row per seed of system A — and ``b`` is (Sb, N). Each
    resample draws Sa seeds of A and Sb seeds of B with replacement (independently:
    seeds of two systems are not paired) and one set of N items with replacement
    shared by both (items are paired), then compares the NaN-aware means over the
    drawn seed×item cells. With ``clusters`` (one label per item) whole clusters are
    drawn instead of items. The observed difference is mean over seeds and items of A
    minus that of B; the effect size is d_z of the per-item seed-averaged differences.
    """
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"hierarchical_bootstrap: a has {a.shape[1]} items, b has {b.shape[1]}; align them first")
    # A pair (item) counts only when both systems scored it in at least one seed.
    both = np.isfinite(a).any(axis=0) & np.isfinite(b).any(axis=0)
    a = np.where(both[None, :], a, np.nan)
    b = np.where(both[None, :], b, np.nan)
    boot = hierarchical_difference_draws(a, b, n_resamples, seed, clusters=clusters)
    with _quiet():
        mean_a = np.nanmean(a, axis=0)
        mean_b = np.nanmean(b, axis=0)
    diffs = (mean_a - mean_b)[None, :]
    result = _summarise(diffs, boot[None, :], n_resamples, confidence,
                        test_name("hierarchical", clusters), squeeze=True, n_clusters=_n_units(clusters, diffs))
    observed = _nan_mean_all(a) - _nan_mean_all(b)
    return Comparison(**{**result.__dict__, "mean_diff": observed})


def hierarchical_difference_draws(a: np.ndarray, b: np.ndarray, n_resamples: int, seed: int = 0, *,
                                  clusters=None, universe=None) -> np.ndarray:
    """Bootstrap draws (R,) of mean(A) − mean(B) over seeds × items, seeds then items (or clusters).

    ``a`` (Sa, N) and ``b`` (Sb, N) share their item columns; see :func:`hierarchical_bootstrap`.
    """
    draws = hierarchical_means_many([a, b], n_resamples, seed, clusters=clusters, universe=universe)
    return draws[0] - draws[1]


def hierarchical_means_many(systems: list[np.ndarray], n_resamples: int, seed: int = 0, *,
                            clusters=None, universe=None) -> np.ndarray:
    """(K, R) two-level bootstrap draws of each system's mean; systems are (S_k, N) on shared items.

    Every resample draws one item (or, with ``clusters``, cluster) multiset shared by
    all systems (items are paired) and, per system, its own multiset of seeds. The
    unit draws come from ``seed`` alone and system k's seed draws from their own
    stream (seed, k), so calls with the same seed and ``universe`` draw the same
    clusters and seeds whatever else differs (the capabilities of one Avg.). All
    systems' unit sums come from one matrix product per chunk of resamples, so K
    systems cost little more than one.
    """
    systems = [np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in systems]
    n_items = systems[0].shape[1]
    if any(x.shape[1] != n_items for x in systems):
        raise ValueError("hierarchical bootstrap: every system needs the same item columns; align them first")
    stacked = np.vstack(systems)
    codes, n_units = cluster_index(clusters, n_items, universe)
    sums, used = unit_totals(stacked, codes, n_units)
    filled, used = sums.T, used.T  # (C, ΣS)
    bounds = np.cumsum([0] + [x.shape[0] for x in systems])
    rng = np.random.default_rng(seed)
    seed_rngs = [np.random.default_rng([seed, k]) for k in range(len(systems))]
    out = np.empty((len(systems), n_resamples), dtype=np.float64)
    for start, stop in _chunks(n_resamples):
        units = resample_counts(n_units, stop - start, rng).astype(np.float64)  # (r, C), shared
        item_sums, item_used = units @ filled, units @ used  # (r, ΣS): Σ_c n_c x_sc per seed row
        for k in range(len(systems)):
            lo, hi = bounds[k], bounds[k + 1]
            seeds = resample_counts(hi - lo, stop - start, seed_rngs[k]).astype(np.float64)  # (r, S_k)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k, start:stop] = ((seeds * item_sums[:, lo:hi]).sum(axis=1)
                                      / (seeds * item_used[:, lo:hi]).sum(axis=1))
    return out


def _nan_mean_all(x: np.ndarray) -> float:
    finite = np.isfinite(x)
    return float(x[finite].mean()) if finite.any() else float("nan")


def bootstrap_hierarchical_means(x: np.ndarray, n_resamples: int, seed: int = 0, *, clusters=None,
                                 universe=None) -> np.ndarray:
    """Bootstrap draws (R,) of one system's mean over seeds × items (seeds, then items or clusters)."""
    return hierarchical_means_many([x], n_resamples, seed, clusters=clusters, universe=universe)[0]


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test: how often only A was right (n10), only B (n01), and p."""

    n10: np.ndarray
    n01: np.ndarray
    p_value: np.ndarray
    acc_diff: np.ndarray  # accuracy(A) − accuracy(B) over the pairs both answered
    n_items: np.ndarray
    n_missing: np.ndarray
    test: str = "exact McNemar (binomial on discordant pairs)"


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> McNemar:
    """Two-sided exact McNemar test per row on paired 0/1 outcomes (NaN = not answerable).

    Under H0 each discordant pair is A-right/B-wrong with probability 1/2, so
    p = min(1, 2 · BinomCDF(min(n10, n01); n10 + n01, 1/2)); p = 1 with no discordant pair.
    """
    a = np.atleast_2d(np.asarray(a_correct, dtype=np.float64))
    b = np.broadcast_to(np.atleast_2d(np.asarray(b_correct, dtype=np.float64)), a.shape)
    valid = np.isfinite(a) & np.isfinite(b)
    a1 = valid & (a > 0.5)
    b1 = valid & (b > 0.5)
    n10 = (a1 & ~b1).sum(axis=1)
    n01 = (~a1 & b1 & valid).sum(axis=1)
    n = n10 + n01
    p = np.where(n > 0, np.minimum(1.0, 2.0 * _sp.binom.cdf(np.minimum(n10, n01), np.maximum(n, 1), 0.5)), 1.0)
    n_items = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(n_items > 0, (n10 - n01) / np.maximum(n_items, 1), np.nan)
    result = McNemar(n10=n10, n01=n01, p_value=p, acc_diff=diff, n_items=n_items, n_missing=a.shape[1] - n_items)
    if np.ndim(a_correct) == 1:
        return McNemar(**{k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in result.__dict__.items()})
    return result


def _adjust_sorted(p_values: np.ndarray, adjust) -> np.ndarray:
    """Apply ``adjust`` (sorted finite p-values → adjusted, same order) and put the results back.

    NaN entries stay NaN and do not count towards the number of comparisons; results are capped at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    vals = p[ok]
    order = np.argsort(vals, kind="stable")
    back = np.empty(vals.shape[0])
    back[order] = np.minimum(1.0, adjust(vals[order]))
    out[ok] = back
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (family-wise error); NaN entries stay NaN and do not count."""
    return _adjust_sorted(p_values, lambda v: np.maximum.accumulate((len(v) - np.arange(len(v))) * v))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false discovery rate); NaN entries stay NaN."""
    return _adjust_sorted(p_values, lambda v: np.minimum.accumulate((v * len(v) / np.arange(1, len(v) + 1))[::-1])[::-1])


CORRECTIONS = {
    "holm": (holm, "Holm–Bonferroni"),
    "bh": (benjamini_hochberg, "Benjamini–Hochberg"),
    "none": (lambda p: np.asarray(p, dtype=np.float64), "no correction"),
}


def adjust(p_values: np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons: ``holm`` (default), ``bh`` or ``none``."""
    try:
        fn, _ = CORRECTIONS[method]
    except KeyError:
        raise ValueError(f"unknown correction {method!r}; known: {', '.join(CORRECTIONS)}") from None
    return fn(p_values)


def summarise_draws(boot: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ci_low, ci_high, p_value) from bootstrap draws of a difference (last axis = resamples).

    For statistics built from several bootstrap distributions (e.g. Avg = the mean of
    three capability scores, each resampled within its own items).
    """
    boot = np.asarray(boot, dtype=np.float64)
    lo, hi = percentile_interval(boot, confidence)
    return lo, hi, percentile_p_value(boot)
