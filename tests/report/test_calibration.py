"""Is the paired bootstrap honest? A/A data must be rejected about α of the time; A/B power is reported.

Data look like judge scores: 0-100 in steps of 5, with a per-item difficulty that
both systems share (what makes the comparison paired). All comparisons go through
one vectorised call, the way a table uses the function.
"""

import numpy as np
from scipy import stats as sps

from harness.report import stats

N_COMPARISONS = 2000
N_ITEMS = 100
N_RESAMPLES = 1000
ALPHA = 0.05


def judge_like(rng, difficulty, shift=0.0):
    raw = difficulty + shift + rng.normal(0, 15, difficulty.shape)
    return np.clip(np.round(raw / 5) * 5, 0, 100)


def simulate(shift: float, seed: int):
    rng = np.random.default_rng(seed)
    difficulty = rng.uniform(10, 90, (N_COMPARISONS, N_ITEMS))
    a = judge_like(rng, difficulty, shift)
    b = judge_like(rng, difficulty)
    result = stats.paired_bootstrap(a, b, n_resamples=N_RESAMPLES, seed=seed + 1)
    return result, a - b


def test_aa_rejection_rate_is_close_to_alpha():
    result, _ = simulate(shift=0.0, seed=11)
    rate = float(np.mean(result.p_value < ALPHA))
    print(f"A/A: {N_COMPARISONS} comparisons x {N_ITEMS} items, rejection rate at alpha=0.05: {rate:.4f}")
    assert 0.03 <= rate <= 0.07
    # the interval and the p-value agree: significant exactly when 0 is outside the 95% interval
    outside = (result.ci_low > 0) | (result.ci_high < 0)
    assert np.mean(outside == (result.p_value < ALPHA)) > 0.99


def test_ab_power_is_reported_and_matches_a_paired_t_test():
    result, diffs = simulate(shift=6.0, seed=23)
    power = float(np.mean(result.p_value < ALPHA))
    t_power = float(np.mean(sps.ttest_1samp(diffs, 0.0, axis=1).pvalue < ALPHA))
    print(f"A/B (+6 points, d_z about {np.mean(result.effect_size):.2f}): bootstrap power {power:.3f}, "
          f"paired t-test power {t_power:.3f}")
    assert power > 0.7
    assert abs(power - t_power) < 0.05
    assert np.all(result.ci_low[result.p_value < ALPHA] > 0)  # every rejection is in the true direction
