"""Power before GPU time: the smallest difference a design can detect, or the seeds it needs.

Pure math (no I/O). The model is the one the report's tests assume. A method's
score on the benchmark varies for two reasons:

- seeds: a run's mean score on fixed items moves from seed to seed (``seed_sd``,
  the standard deviation across seeds of one configuration's run mean);
- items: the benchmark is a sample of questions that come in clusters (DriveBench:
  about 7 per key frame). Two runs differ cluster by cluster; ``cluster_sd`` is
  the standard deviation of that paired difference scaled so that
  ``cluster_sd**2 / n_clusters`` is the item-sampling variance of the mean
  difference (for equal clusters: the sd of per-cluster mean differences).

Comparing two methods with ``n`` seeds each on ``n_items`` items in clusters of
``items_per_cluster`` (``C = n_items / items_per_cluster`` clusters), the report's
hierarchical bootstrap (seeds, then clusters) reads the standard error::

    se² = (2 · seed_sd² + cluster_sd² / C) / n
    MDE = (z(1 − α/2) + z(power)) · se

Both terms shrink with seeds: seed noise averages over runs, and so does the
run-to-run difference cluster by cluster. The pilot's two seeds of one
configuration stand in for two methods' runs, so a method-by-item effect (one
method better on some kinds of frame) is assumed away; where it exists it adds a
term that more seeds do not remove. The formula counts the runs' per-cluster
noise in both terms, as the two-level bootstrap does, so it is a little larger
than the true spread of the difference (conservative); tests/report/test_power.py
checks it against the bootstrap and against simulation. With one seed per method a
table's test is the paired bootstrap over clusters alone; its caption states that
test's own minimum detectable effect (the second term), which says nothing about seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _sp


def z_sum(alpha: float, power: float) -> float:
    """z(1 − α/2) + z(power): how many standard errors a two-sided test needs to see an effect."""
    return float(_sp.norm.ppf(1.0 - alpha / 2.0) + _sp.norm.ppf(power))


def minimum_detectable_effect(standard_error: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The true difference a two-sided level-α test detects with the given power (normal approximation)."""
    return z_sum(alpha, power) * float(standard_error)


@dataclass(frozen=True)
class Variability:
    """The two variance components of a benchmark score (see the module docstring)."""

    seed_sd: float
    cluster_sd: float
    items_per_cluster: float = 1.0
    n_items: int = 0  # items of the pilot's benchmark (the default design size)
    source: str = "given"

    def standard_error(self, n_seeds: int, n_items: int | None = None) -> float:
        """Standard error of the difference of two methods' means, ``n_seeds`` seeds each."""
        n_items = n_items or self.n_items
        if n_seeds < 1 or not n_items or n_items <= 0:
            raise ValueError(f"need at least one seed and one item, got {n_seeds} seeds and {n_items} items")
        return math.sqrt(self._one_seed_variance(n_items) / n_seeds)

    def _one_seed_variance(self, n_items: int | None) -> float:
        n_clusters = (n_items or self.n_items) / self.items_per_cluster
        return 2.0 * self.seed_sd**2 + self.cluster_sd**2 / n_clusters

    def mde(self, n_seeds: int, n_items: int | None = None, alpha: float = 0.05, power: float = 0.8) -> float:
        """Minimum detectable effect of a comparison of two methods with ``n_seeds`` seeds each."""
        return minimum_detectable_effect(self.standard_error(n_seeds, n_items), alpha, power)

    def seeds_needed(self, effect: float, n_items: int | None = None, alpha: float = 0.05,
                     power: float = 0.8) -> int:
        """Fewest seeds per method whose minimum detectable effect is at most ``effect``."""
        effect = abs(float(effect))
        if effect == 0.0:
            raise ValueError("an effect of 0 needs infinitely many seeds")
        n = math.ceil(self._one_seed_variance(n_items) / (effect / z_sum(alpha, power)) ** 2 * (1 - 1e-12))
        return max(1, n)


def cluster_sd(diffs: np.ndarray, clusters: np.ndarray | None, weights: np.ndarray | None = None) -> float:
    """``cluster_sd`` of one paired difference vector (one value per item, NaN = missing).

    The estimate of the weighted mean difference is ``Σ_c T_c`` with
    ``T_c = Σ_{i∈c} w_i d_i`` (weights sum to 1 over the valid items), whose variance
    under resampling C clusters is ``C · var(T_c)``; ``cluster_sd`` is that times C,
    square-rooted, so that ``cluster_sd² / C`` is the variance. With equal weights and
    clusters of one this is the plain sd of the differences.
    """
    diffs = np.asarray(diffs, dtype=np.float64)
    valid = np.isfinite(diffs)
    w = np.ones_like(diffs) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.where(valid, w, 0.0)
    w = w / w.sum()
    labels = np.arange(diffs.size) if clusters is None else np.asarray(clusters)
    _, codes = np.unique(labels, return_inverse=True)
    totals = np.bincount(codes.reshape(-1), weights=np.where(valid, w * diffs, 0.0))
    present = np.bincount(codes.reshape(-1), weights=valid.astype(float)) > 0
    totals = totals[present]
    c = totals.size
    if c < 2:
        raise ValueError("need at least two clusters with a valid difference to estimate cluster_sd")
    return float(c * np.std(totals, ddof=1))


def pooled_sd(groups: list[np.ndarray]) -> tuple[float, int]:
    """(pooled standard deviation, degrees of freedom) of several groups' values (groups of one add nothing)."""
    num, dof = 0.0, 0
    for values in groups:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size >= 2:
            num += float(((values - values.mean()) ** 2).sum())
            dof += values.size - 1
    if dof == 0:
        return math.nan, 0
    return math.sqrt(num / dof), dof
