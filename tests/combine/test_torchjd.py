"""The combiners against an independent library: TorchJD's aggregators (dev dependency ``torchjd``).

Conventions lined up, and where the two differ (read from TorchJD 0.18's source):

- Both work on the Gramian and return one weight per objective; the update is
  ``sum_k w_k g_k`` in both. TorchJD's aggregators take the K×P matrix; its
  ``*Weighting`` classes take the Gramian, which is what these tests call.
- Sum: ones in both; our ``sum`` with weights 1/K is TorchJD's Mean.
- PCGrad: both project each g_i off every ORIGINAL g_j it conflicts with, visiting
  the others in the order of one ``randperm(K)`` per objective (objective 0 first),
  skipping i itself, and sum the results (our ``reduction: sum``, the default;
  ``mean`` is that sum / K). Our vector reference (harness/combine/reference.py)
  is compared with TorchJD's PCGrad aggregator on the matrix as well.
  TorchJD draws from the global torch RNG, we from the step's generator; seeding
  both alike gives the same orders, so the weights must agree to rounding.
  Differences: TorchJD divides by ``G_jj`` unguarded (a zero gradient gives NaN);
  we skip a zero (negligible) vector, so zero gradients are left out here.
- MGDA: TorchJD runs Frank-Wolfe (Sener & Koltun's Algorithm 2) and stops when the
  step is below ``epsilon`` (default 1e-3) or after ``max_iters`` (default 100);
  ours is exact. So ours must be at least as short as TorchJD's and close to it
  once Frank-Wolfe has run long enough; bit equality is not expected.
- GradVac: the same update rule and the same EMA of targets (both start at 0), but
  TorchJD draws each objective's order as ``randperm(K - 1)`` of the others (ours:
  ``randperm(K)`` with i left out), adds ``eps`` (default 1e-8) to denominators and
  does not clamp targets (ours keeps them within ±0.99). With two objectives the
  order is forced, so with ``eps=0`` and cosines inside ±0.99 the weights agree
  step after step; with three or more the random orders differ by construction.
  TorchJD's default ``beta`` is 0.5, ours 0.01: both are given the same beta here.
"""

from __future__ import annotations

import pytest
import torch

torchjd = pytest.importorskip("torchjd", reason="dev dependency torchjd (pip install torchjd)")
from torchjd.aggregation import GradVacWeighting, Mean, MGDAWeighting, PCGrad, PCGradWeighting, Sum  # noqa: E402

from harness.combine import aggregate, build_combiner, gramian  # noqa: E402
from harness.combine.reference import pcgrad_vector  # noqa: E402

NAMES = ["ce", "perception", "reasoning", "planning", "extra"]


def gradients(k: int, p: int, seed: int, spread: float = 2.0) -> torch.Tensor:
    """K random gradients with norms up to 10**spread apart (no zeros: see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(k, p, generator=gen, dtype=torch.float64)
    return g * (10.0 ** torch.empty(k, dtype=torch.float64).uniform_(-spread, spread, generator=gen))[:, None]


@pytest.mark.parametrize("seed", range(10))
def test_sum_is_torchjds_sum(seed):
    g = gradients(4, 7, seed)
    assert torch.allclose(aggregate(g, NAMES[:4], "sum"), Sum()(g), rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("seed", range(10))
def test_sum_with_weights_one_over_k_is_torchjds_mean(seed):
    g = gradients(4, 7, seed)
    ours = aggregate(g, NAMES[:4], "sum", weights={n: 0.25 for n in NAMES[:4]})
    assert torch.allclose(ours, Mean()(g), rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(8))
def test_pcgrad_weights_are_torchjds_with_the_same_orders(reduction, k, seed):
    g = gradients(k, 6, seed)
    gram = gramian(g)
    torch.manual_seed(seed)  # TorchJD's orders come from the global generator
    theirs = PCGradWeighting()(gram) / (k if reduction == "mean" else 1)  # TorchJD sums
    ours = build_combiner("pcgrad", reduction=reduction)(gram, NAMES[:k], torch.Generator().manual_seed(seed))
    assert torch.allclose(ours, theirs, rtol=1e-10, atol=1e-12 * float(theirs.abs().max()))


@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(8))
def test_the_pcgrad_vector_reference_is_torchjds_pcgrad(k, seed):
    """The vector reference itself (harness/combine/reference.py) agrees with an independent library."""
    g = gradients(k, 6, seed)
    torch.manual_seed(seed)
    theirs = PCGrad()(g)
    ours = pcgrad_vector(g, NAMES[:k], torch.Generator().manual_seed(seed))
    assert torch.allclose(ours, theirs, rtol=1e-10, atol=1e-12 * float(g.norm(dim=1).sum()))


@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(8))
def test_mgda_is_never_longer_than_torchjds_frank_wolfe(k, seed):
    g = gradients(k, 8, seed, spread=1.0)
    gram = gramian(g)
    d = build_combiner("mgda")(gram, NAMES[:k]) @ g
    theirs = MGDAWeighting()(gram) @ g  # TorchJD's defaults: epsilon 1e-3, 100 iterations
    assert float(d @ d) <= float(theirs @ theirs) * (1 + 1e-12)  # ours is the minimum


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(3))
def test_mgda_agrees_with_torchjds_frank_wolfe_once_it_has_converged(k, seed):
    g = gradients(k, 8, seed, spread=1.0)
    gram = gramian(g)
    d = build_combiner("mgda")(gram, NAMES[:k]) @ g
    theirs = MGDAWeighting(epsilon=1e-12, max_iters=10_000)(gram) @ g
    longer = float(theirs.norm()) / float(d.norm())
    assert -1e-12 < longer - 1 < 1e-3, f"Frank-Wolfe after 10,000 steps is {longer - 1:.2e} longer"
    assert float((theirs - d).norm()) < 0.05 * float(d.norm())


@pytest.mark.parametrize("seed", range(8))
def test_gradvac_matches_torchjd_for_two_objectives_over_several_steps(seed):
    ours = build_combiner("gradvac", beta=0.5)
    theirs = GradVacWeighting(beta=0.5, eps=0.0)
    for step in range(6):
        g = gradients(2, 5, 100 * seed + step, spread=1.0)
        gram = gramian(g)
        cos = float(gram[0, 1] / (gram[0, 0] * gram[1, 1]).sqrt())
        if abs(cos) > 0.99:  # ours clamps targets at ±0.99, TorchJD does not
            pytest.skip("a cosine beyond ±0.99: the clamps differ by design")
        w_ours = ours(gram, NAMES[:2], torch.Generator().manual_seed(step))
        w_theirs = theirs(gram)
        assert torch.allclose(w_ours, w_theirs, rtol=1e-9, atol=1e-12), f"step {step}"
