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
``items_per_cluster``::

    se² = 2 · seed_sd² / n + cluster_sd² / (n_items / items_per_cluster)
    MDE = (z(1 − α/2) + z(power)) · se

The item term uses the difference between single runs, which also holds
seed-by-item noise that averaging seeds would shrink, so with several seeds the
figure is a slight over-estimate (conservative). A table whose systems have one
seed each tests the two runs, not the methods: its own minimum detectable effect
(stated in its caption) is the item term alone, read off the bootstrap.
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
        n_clusters = n_items / self.items_per_cluster
        return math.sqrt(2.0 * self.seed_sd**2 / n_seeds + self.cluster_sd**2 / n_clusters)

    def mde(self, n_seeds: int, n_items: int | None = None, alpha: float = 0.05, power: float = 0.8) -> float:
        """Minimum detectable effect of a comparison of two methods with ``n_seeds`` seeds each."""
        return minimum_detectable_effect(self.standard_error(n_seeds, n_items), alpha, power)

    def floor(self, n_items: int | None = None, alpha: float = 0.05, power: float = 0.8) -> float:
        """The MDE with infinitely many seeds: what the items alone allow."""
        n_items = n_items or self.n_items
        return z_sum(alpha, power) * self.cluster_sd / math.sqrt(n_items / self.items_per_cluster)

    def seeds_needed(self, effect: float, n_items: int | None = None, alpha: float = 0.05, power: float = 0.8,
                     max_seeds: int = 10_000) -> int | None:
        """Fewest seeds per method whose MDE is at most ``effect``; None when no number of seeds reaches it."""
        effect = abs(float(effect))
        if effect <= self.floor(n_items, alpha, power):
            return None
        # se² ≤ (effect / z)²  ⇔  2·seed_sd²/n ≤ (effect/z)² − item term
        room = (effect / z_sum(alpha, power)) ** 2 - (self.cluster_sd**2 / ((n_items or self.n_items)
                                                                               / self.items_per_cluster))
        n = 1 if self.seed_sd == 0 else math.ceil(2.0 * self.seed_sd**2 / room - 1e-12)
        n = max(1, n)
        return n if n <= max_seeds else None


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
