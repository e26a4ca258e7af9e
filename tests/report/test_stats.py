"""The statistics of `harness report`: known answers, invariances, and vectorised == plain loop."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from harness.report import stats

finite = st.floats(min_value=0, max_value=100, allow_nan=False)
score_vectors = st.lists(finite, min_size=5, max_size=40)


def test_paired_bootstrap_finds_a_known_shift():
    rng = np.random.default_rng(0)
    b = rng.uniform(0, 100, 400)
    a = b + 5 + rng.normal(0, 10, 400)
    result = stats.paired_bootstrap(a, b, n_resamples=4000, seed=1)
    assert result.ci_low < 5 < result.ci_high
    assert result.mean_diff == pytest.approx(np.mean(a - b))
    assert result.p_value < 0.001
    assert result.effect_size == pytest.approx(np.mean(a - b) / np.std(a - b, ddof=1))
    assert result.n_items == 400 and result.n_missing == 0


def test_identical_systems_give_no_difference_and_p_one():
    x = np.random.default_rng(1).uniform(0, 100, 50)
    result = stats.paired_bootstrap(x, x.copy(), n_resamples=500, seed=0)
    assert result.mean_diff == 0 and result.ci_low == 0 and result.ci_high == 0
    assert result.p_value == 1.0 and result.effect_size == 0.0


def test_missing_verdicts_are_excluded_pairwise_and_counted():
    a = np.array([10.0, np.nan, 30.0, 40.0, 50.0])
    b = np.array([0.0, 20.0, np.nan, 30.0, 40.0])
    result = stats.paired_bootstrap(a, b, n_resamples=300, seed=0)
    assert result.n_items == 3 and result.n_missing == 2
    assert result.mean_diff == pytest.approx(10.0)  # pairs (10,0), (40,30), (50,40); never a 0 for NaN


@settings(max_examples=40, deadline=None)
@given(score_vectors, st.integers(0, 2**31 - 1))
def test_swapping_systems_mirrors_the_result(values, seed):
    rng = np.random.default_rng(seed)
    a = np.array(values)
    b = np.clip(a + rng.normal(0, 10, a.size), 0, 100)
    ab = stats.paired_bootstrap(a, b, n_resamples=300, seed=seed)
    ba = stats.paired_bootstrap(b, a, n_resamples=300, seed=seed)
    assert ab.mean_diff == pytest.approx(-ba.mean_diff, abs=1e-9)
    assert ab.ci_low == pytest.approx(-ba.ci_high, abs=1e-9)
    assert ab.p_value == pytest.approx(ba.p_value)
    assert 0 < ab.p_value <= 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=5, max_size=40), st.integers(-50, 50), st.integers(0, 1000))
def test_a_common_shift_of_both_systems_changes_nothing(values, shift, seed):
    # integer judge totals keep the arithmetic exact, so a zero difference stays exactly zero
    a = np.array(values, dtype=float)
    b = a[::-1].copy()
    plain = stats.paired_bootstrap(a, b, n_resamples=200, seed=seed)
    shifted = stats.paired_bootstrap(a + shift, b + shift, n_resamples=200, seed=seed)
    assert shifted.mean_diff == pytest.approx(plain.mean_diff, abs=1e-6)
    assert shifted.ci_low == pytest.approx(plain.ci_low, abs=1e-6)
    assert shifted.p_value == pytest.approx(plain.p_value)


def test_vectorised_bootstrap_equals_a_plain_per_resample_loop():
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 100, (4, 30))
    values[1, 5] = np.nan
    fast = stats.bootstrap_means(values, n_resamples=200, seed=7)
    idx = np.random.default_rng(7).integers(0, 30, size=(200, 30))  # the same draws, used as indices
    for s in range(4):
        for r in range(200):
            assert fast[s, r] == pytest.approx(np.nanmean(values[s, idx[r]]), rel=1e-12)


def test_many_systems_at_once_equal_one_at_a_time():
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 100, (5, 60))
    b = rng.uniform(0, 100, 60)
    together = stats.paired_bootstrap(a, b, n_resamples=300, seed=2)
    for s in range(5):
        alone = stats.paired_bootstrap(a[s], b, n_resamples=300, seed=2)
        assert together.p_value[s] == pytest.approx(alone.p_value)
        assert together.ci_high[s] == pytest.approx(alone.ci_high)


def test_mcnemar_exact_known_values_and_scipy_agreement():
    a = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 0], dtype=float)
    b = np.zeros(10)
    b[8] = 1  # one pair where both are right
    result = stats.mcnemar_exact(a, b)
    assert (result.n10, result.n01) == (7, 0)
    assert result.p_value == pytest.approx(2 * 0.5**7)
    rng = np.random.default_rng(5)
    for _ in range(20):
        x, y = rng.integers(0, 2, 40).astype(float), rng.integers(0, 2, 40).astype(float)
        r = stats.mcnemar_exact(x, y)
        n = r.n10 + r.n01
        expected = sps.binomtest(int(r.n10), int(n), 0.5).pvalue if n else 1.0
        assert r.p_value == pytest.approx(min(1.0, expected))
        assert stats.mcnemar_exact(y, x).p_value == pytest.approx(r.p_value)


def test_mcnemar_ignores_unanswerable_items():
    a = np.array([1, 1, np.nan, 0.0])
    b = np.array([0, np.nan, 1, 0.0])
    result = stats.mcnemar_exact(a, b)
    assert result.n_items == 2 and result.n_missing == 2 and result.n10 == 1


def test_holm_known_example():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → monotone 0.02, 0.03, 0.06, 0.06
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_known_example():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted ×m/rank: 0.02, 0.02, 0.04, 0.04
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=30))
def test_corrections_never_lower_p_and_keep_the_order(values):
    p = np.array(values)
    h, bh = stats.holm(p), stats.benjamini_hochberg(p)
    assert np.all(h >= p - 1e-12) and np.all(bh >= p - 1e-12)
    assert np.all(bh <= h + 1e-12)  # BH is never more conservative than Holm
    assert np.all(h <= 1) and np.all(bh <= 1)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(h[order]) >= -1e-12) and np.all(np.diff(bh[order]) >= -1e-12)


def test_corrections_leave_nan_out_of_the_count():
    p = np.array([0.01, np.nan, 0.02])
    assert stats.holm(p)[0] == pytest.approx(0.02) and math.isnan(stats.holm(p)[1])
    with pytest.raises(ValueError, match="unknown correction"):
        stats.adjust(p, "bonferonni")


def test_paired_cohens_d_known_value():
    d = np.array([1.0, 2.0, 3.0, 4.0])
    assert stats.paired_cohens_d(d)[0] == pytest.approx(2.5 / np.std(d, ddof=1))


def test_hierarchical_bootstrap_detects_an_effect_and_widens_with_seed_noise():
    rng = np.random.default_rng(6)
    difficulty = rng.uniform(10, 90, 300)
    b = difficulty[None, :] + rng.normal(0, 5, (3, 300))
    a_quiet = difficulty[None, :] + 8 + rng.normal(0, 5, (3, 300))
    quiet = stats.hierarchical_bootstrap(a_quiet, b, n_resamples=2000, seed=0)
    assert quiet.ci_low < 8 < quiet.ci_high and quiet.p_value < 0.01
    seed_offsets = np.array([[-15.0], [0.0], [15.0]])  # whole runs differ by seed
    noisy = stats.hierarchical_bootstrap(a_quiet + seed_offsets, b, n_resamples=2000, seed=0)
    pooled = stats.paired_bootstrap((a_quiet + seed_offsets).mean(axis=0), b.mean(axis=0), 2000, 0)
    assert noisy.ci_high - noisy.ci_low > 2 * (pooled.ci_high - pooled.ci_low)
    assert noisy.test.startswith("hierarchical")


# --- independent reference: scipy.stats.bootstrap ---------------------------------------------
# scipy resamples observations with its own generator, so intervals agree up to Monte-Carlo
# error, not bit for bit: both use the plain percentile method (scipy's default is BCa, so
# method="percentile" is set), two-sided at 95%, and the same statistic (the mean of the
# per-item differences; for clusters, the ratio of resampled cluster sums to resampled counts).

def _scipy_percentile(data, statistic, n_resamples=20_000):
    res = sps.bootstrap(data, statistic, paired=True, vectorized=False, n_resamples=n_resamples,
                        method="percentile", confidence_level=0.95, rng=np.random.default_rng(9))
    return res.confidence_interval.low, res.confidence_interval.high, res.standard_error


def test_item_bootstrap_interval_matches_scipy_bootstrap():
    rng = np.random.default_rng(21)
    b = rng.uniform(0, 100, 300)
    a = b + 2 + rng.normal(0, 12, 300)
    ours = stats.paired_bootstrap(a, b, n_resamples=20_000, seed=3)
    low, high, se = _scipy_percentile((a - b,), np.mean)
    assert ours.standard_error == pytest.approx(se, rel=0.03)
    assert ours.ci_low == pytest.approx(low, abs=0.1 * se) and ours.ci_high == pytest.approx(high, abs=0.1 * se)


def test_cluster_bootstrap_interval_matches_scipy_bootstrap_over_cluster_totals():
    rng = np.random.default_rng(22)
    sizes = rng.integers(3, 11, 80)  # frames with 3-10 questions, like DriveBench's
    labels = np.repeat(np.arange(80), sizes)
    frame_effect = rng.normal(0, 6, 80)[labels]
    b = rng.uniform(0, 100, labels.size)
    a = b + 1 + frame_effect + rng.normal(0, 10, labels.size)
    ours = stats.paired_bootstrap(a, b, clusters=labels.astype(str), n_resamples=20_000, seed=4)
    sums = np.bincount(labels, weights=a - b)
    counts = np.bincount(labels).astype(float)
    low, high, se = _scipy_percentile((sums, counts), lambda s, n: s.sum() / n.sum())
    assert ours.n_clusters == 80
    assert ours.standard_error == pytest.approx(se, rel=0.03)
    assert ours.ci_low == pytest.approx(low, abs=0.1 * se) and ours.ci_high == pytest.approx(high, abs=0.1 * se)


def test_clusters_of_one_item_are_the_item_bootstrap():
    rng = np.random.default_rng(23)
    a, b = rng.uniform(0, 100, (2, 50))
    items = stats.paired_bootstrap(a, b, n_resamples=500, seed=5)
    ones = stats.paired_bootstrap(a, b, clusters=np.arange(50), n_resamples=500, seed=5)
    assert ones.ci_low == pytest.approx(items.ci_low) and ones.p_value == pytest.approx(items.p_value)


def test_a_shared_universe_draws_the_same_clusters_in_every_call():
    """Two capabilities' items on the same frames: with one universe and seed, the draws agree
    frame by frame, so an Avg. of their means is resampled jointly."""
    frames = np.array(["f1", "f1", "f2", "f3", "f3", "f3"])
    x = np.array([[1.0, 1.0, 2.0, 3.0, 3.0, 3.0]])
    universe = ["f1", "f2", "f3", "f4"]
    first = stats.bootstrap_means(x[:, :3], 200, seed=6, clusters=frames[:3], universe=universe)
    second = stats.bootstrap_means(x[:, 3:], 200, seed=6, clusters=frames[3:], universe=universe)
    counts = stats.resample_counts(4, 200, np.random.default_rng(6))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_first = (counts[:, 0] * 2 + counts[:, 1] * 2) / (counts[:, 0] * 2 + counts[:, 1])
    assert np.allclose(first[0], expected_first, equal_nan=True)
    assert np.all(np.isnan(second[0]) == (counts[:, 2] == 0))
    with pytest.raises(ValueError, match="not in the universe"):
        stats.bootstrap_means(x, 10, clusters=np.array(["f9"] * 6), universe=universe)


def test_hierarchical_bootstrap_over_clusters_is_wider_than_over_items_on_clustered_data():
    rng = np.random.default_rng(24)
    labels = np.repeat(np.arange(60), 7)
    difficulty = rng.uniform(10, 90, labels.size)
    b = difficulty + rng.normal(0, 8, (3, labels.size))
    a = difficulty + rng.normal(0, 8, 60)[labels][None, :] + rng.normal(0, 8, (3, labels.size))
    items = stats.hierarchical_bootstrap(a, b, n_resamples=2000, seed=0)
    frames = stats.hierarchical_bootstrap(a, b, n_resamples=2000, seed=0, clusters=labels)
    assert frames.standard_error > 1.5 * items.standard_error
    assert frames.test == "hierarchical bootstrap (seeds, then clusters)" and frames.n_clusters == 60
