"""McNemar and the multiple-testing corrections against statsmodels (dev dependency).

Conventions lined up:
- McNemar: statsmodels' ``mcnemar(table, exact=True)`` takes the 2×2 table
  [[both right, only A], [only B, both wrong]] and returns the two-sided binomial
  p-value on the discordant cells, min(1, 2·BinomCDF(min(n10, n01))), as ours does.
  Ours builds the table itself from paired 0/1 outcomes and drops pairs with a NaN
  (an unanswerable item); statsmodels has no notion of missing.
- Holm and Benjamini–Hochberg: ``multipletests(p, method="holm" | "fdr_bh")``
  returns adjusted p-values in input order, capped at 1, as ours does. Ours leaves
  NaN entries out of the count and returns NaN for them; statsmodels would count
  them, so NaN is not compared here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sm_tables = pytest.importorskip("statsmodels.stats.contingency_tables", reason="dev dependency statsmodels")
sm_multitest = pytest.importorskip("statsmodels.stats.multitest", reason="dev dependency statsmodels")

from harness.report import stats  # noqa: E402


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 120), st.floats(0.05, 0.95))
def test_mcnemar_is_statsmodels_exact_mcnemar(seed, n, p_right):
    rng = np.random.default_rng(seed)
    a = (rng.random(n) < p_right).astype(float)
    b = (rng.random(n) < p_right).astype(float)
    ours = stats.mcnemar_exact(a, b)
    table = [[int(((a == 1) & (b == 1)).sum()), int(((a == 1) & (b == 0)).sum())],
             [int(((a == 0) & (b == 1)).sum()), int(((a == 0) & (b == 0)).sum())]]
    theirs = sm_tables.mcnemar(table, exact=True)
    if ours.n10 + ours.n01 == 0:
        assert ours.p_value == 1.0  # statsmodels' binomial on zero trials is also 1
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-12, abs=1e-15)
    assert min(ours.n10, ours.n01) == theirs.statistic  # its exact statistic: the smaller discordant count


@settings(max_examples=25, deadline=None)  # statsmodels takes ~0.1 s a call here
@given(st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=40))
def test_holm_and_bh_are_statsmodels_multipletests(values):
    p = np.array(values)
    assert stats.holm(p) == pytest.approx(sm_multitest.multipletests(p, method="holm")[1], abs=1e-12)
    assert stats.benjamini_hochberg(p) == pytest.approx(sm_multitest.multipletests(p, method="fdr_bh")[1], abs=1e-12)


def test_nan_is_left_out_where_statsmodels_would_count_it():
    p = np.array([0.01, np.nan, 0.02, 0.04])
    finite = p[np.isfinite(p)]
    ours = stats.holm(p)
    assert np.isnan(ours[1])
    assert ours[[0, 2, 3]] == pytest.approx(sm_multitest.multipletests(finite, method="holm")[1])
