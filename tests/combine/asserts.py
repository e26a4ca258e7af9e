"""The property asserts every combiner test uses (in the style of TorchJD's aggregation tests).

Each assert takes a way to make the combiner (``make()``: a fresh instance, so a
stateful one starts empty) and a set of gradients, and states one property in its
docstring. Which properties a combiner promises is declared in
tests/combine/contracts.py; tests/combine/test_conformance.py applies them to every
registered combiner.

Tolerances are relative to the inputs (see :func:`assert_same_update`).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from harness.combine import aggregate, gramian
from harness.combine.base import Combiner
from harness.combine.reference import VectorForm

MakeCombiner = Callable[[], Combiner]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_same_update(got: Tensor, expected: Tensor, g: Tensor, what: str, rtol: float = 1e-6) -> None:
    """Two updates agree to ``rtol`` relative to the sum of the input norms.

    Why that reference: any method that adds these gradients in float64 carries
    rounding of order eps × sum_k |g_k| (a 1e-8 gradient next to a 1e8 one is
    below that floor in ANY implementation), while the result itself can be far
    smaller than its inputs (opposite gradients cancel), so "relative to the result"
    would demand more than float64 holds. All-zero inputs must give exactly zero.
    """
    scale = float(g.to(torch.float64).norm(dim=1).sum())
    err = float((got.to(torch.float64) - expected.to(torch.float64)).norm())
    assert torch.isfinite(got).all(), f"{what}: non-finite result"
    assert err <= rtol * scale, f"{what}: |got - expected| = {err:.3e} > {rtol} × {scale:.3e}"


def assert_expected_structure(make: MakeCombiner, g: Tensor, names: list[str], seed: int, what: str) -> None:
    """K finite float64 weights; the update is a finite D-vector in the gradients' dtype (float32 too)."""
    weights = make()(gramian(g), names, seeded(seed))
    assert weights.shape == (len(names),) and weights.dtype == torch.float64, what
    assert torch.isfinite(weights).all(), f"{what}: non-finite weights {weights.tolist()}"
    for dtype in (torch.float64, torch.float32):
        grads = g.to(dtype)
        if not bool(torch.isfinite(grads).all()):
            continue  # float32 cannot hold every float64 input
        update = aggregate(grads, names, make(), generator=seeded(seed))
        assert update.shape == (g.shape[1],) and update.dtype == dtype, f"{what} ({dtype})"
        assert torch.isfinite(update).all(), f"{what} ({dtype}): non-finite update"


def assert_matches_vector_form(make: MakeCombiner, make_vector: Callable[[], VectorForm], g: Tensor, names: list[str],
                               seed: int, what: str, steps: int = 3) -> None:
    """The Gramian form equals the plain vector form (harness/combine/reference.py), step after step.

    One combiner instance and one vector form see ``steps`` calls with changing
    geometry, so a stateful combiner's memory is compared too; each side draws its
    orders from its own generator seeded alike.
    """
    combiner, vector = make(), make_vector()
    gen, gen_vector = seeded(seed), seeded(seed)
    for step in range(steps):
        step_g = g * (1.0 + 0.5 * step) + step * g.roll(1, dims=0)
        got = aggregate(step_g, names, combiner, generator=gen)
        assert_same_update(got, vector(step_g, names, gen_vector), step_g, f"{what} step {step}")


def assert_deterministic(make: MakeCombiner, g: Tensor, names: list[str], seed: int, what: str) -> None:
    """The same generator state gives bit-identical weights; no generator means seed 0."""
    assert torch.equal(make()(gramian(g), names, seeded(seed)), make()(gramian(g), names, seeded(seed))), what
    assert torch.equal(make()(gramian(g), names), make()(gramian(g), names, seeded(0))), what


def assert_draws_only_from_its_generator(make: MakeCombiner, g: Tensor, names: list[str], seed: int, what: str) -> None:
    """The global torch RNG is left alone: every random order comes from the step's generator."""
    before = torch.get_rng_state()
    make()(gramian(g), names, seeded(seed))
    assert torch.equal(torch.get_rng_state(), before), f"{what}: the global RNG was drawn from"


def assert_permutation_invariant(make: MakeCombiner, g: Tensor, names: list[str], seed: int, perm: list[int],
                                 what: str) -> None:
    """Listing the objectives in another order (rows and names together) leaves the update unchanged."""
    update = aggregate(g, names, make(), generator=seeded(seed))
    permuted = aggregate(g[perm], [names[i] for i in perm], make(), generator=seeded(seed))
    assert_same_update(permuted, update, g, f"{what} permutation {perm}")


def assert_linear_under_scaling(make: MakeCombiner, g: Tensor, names: list[str], seed: int, c1: Tensor, c2: Tensor,
                                alpha: float, beta: float, what: str) -> None:
    """``A(diag(α c1 + β c2) J) = α A(diag(c1) J) + β A(diag(c2) J)`` for positive row scalings c1, c2."""

    def combined(c: Tensor) -> Tensor:
        return aggregate(c[:, None] * g, names, make(), generator=seeded(seed))

    mixed = alpha * c1 + beta * c2
    expected = alpha * combined(c1) + beta * combined(c2)
    reference = torch.cat([mixed[:, None] * g, alpha * c1[:, None] * g, beta * c2[:, None] * g])
    assert_same_update(combined(mixed), expected, reference, f"{what} c1={c1.tolist()} c2={c2.tolist()}")


def assert_weights_ignore_a_global_scale(make: MakeCombiner, g: Tensor, names: list[str], seed: int, factor: float,
                                         what: str) -> None:
    """Scaling every gradient by λ > 0 leaves the weights alone (the update scales by λ)."""
    base = make()(gramian(g), names, seeded(seed))
    scaled = make()(gramian(g * factor), names, seeded(seed))
    assert_same_update(scaled @ g, base @ g, g, f"{what} ×{factor}")


def assert_non_conflicting(make: MakeCombiner, g: Tensor, names: list[str], seed: int, what: str) -> None:
    """The update opposes no objective: ``<d, g_k> >= 0`` for every k (to rounding)."""
    d = aggregate(g, names, make(), generator=seeded(seed))
    scale = float(g.norm(dim=1).sum())
    for k, name in enumerate(names):
        assert float(d @ g[k]) >= -1e-9 * scale * float(g[k].norm()), f"{what}: the update opposes '{name}'"


def assert_no_conflict_means_no_projection(make: MakeCombiner, make_unprojected: MakeCombiner, g: Tensor,
                                           names: list[str], seed: int, what: str) -> None:
    """Gradients that do not conflict pairwise are combined as if every projection were switched off."""
    assert bool((gramian(g) >= 0).all()), f"{what}: the inputs conflict"
    got = aggregate(g, names, make(), generator=seeded(seed))
    assert_same_update(got, aggregate(g, names, make_unprojected(), generator=seeded(seed)), g, what, rtol=1e-12)


def assert_zero_gradients_are_safe(make: MakeCombiner, g: Tensor, names: list[str], seed: int, what: str) -> None:
    """Zero gradients give finite weights and update; all-zero gradients give exactly zero."""
    weights = make()(gramian(g), names, seeded(seed))
    update = aggregate(g, names, make(), generator=seeded(seed))
    assert torch.isfinite(weights).all() and torch.isfinite(update).all(), what
    if not bool(g.any()):
        assert not bool(update.any()), f"{what}: something out of nothing"
