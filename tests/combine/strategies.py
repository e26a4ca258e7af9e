"""Hypothesis strategies for sets of K gradients that stress the combiners' numerics."""

from __future__ import annotations

import os

import torch
from hypothesis import settings
from hypothesis import strategies as st

#: More examples for a soak run: HARNESS_HYPOTHESIS_EXAMPLES=5000 pytest tests/combine
EXAMPLES = int(os.environ.get("HARNESS_HYPOTHESIS_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None)
#: The conformance suite's shared properties run for every combiner (x5 and more): fewer
#: examples each by default, the same soak with HARNESS_HYPOTHESIS_EXAMPLES.
PROPERTY_SETTINGS = settings(max_examples=max(10, EXAMPLES // 5), deadline=None)

NAMES = ["ce", "perception", "reasoning", "planning", "extra"]
#: The most objectives a gradient set has.
MAX_K = len(NAMES)
KINDS = ["random", "rank_deficient", "zeros", "scaled", "collinear", "no_conflict"]


def make_gradients(kind: str, k: int, p: int, seed: int, global_exponent: float) -> torch.Tensor:
    """K×P float64 gradients of the given kind, all multiplied by 10**global_exponent."""
    gen = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    if kind == "random":
        g = torch.randn(k, p, generator=gen, dtype=f64)
    elif kind == "rank_deficient":
        r = int(torch.randint(1, max(2, min(k, p)), (1,), generator=gen))
        g = torch.randn(k, r, generator=gen, dtype=f64) @ torch.randn(r, p, generator=gen, dtype=f64)
        if k >= 3:  # exact duplicates and exact opposites as well
            g[1] = -g[0]
            g[2] = 2.0 * g[0]
    elif kind == "zeros":
        g = torch.randn(k, p, generator=gen, dtype=f64)
        mask = torch.rand(k, generator=gen) < 0.5
        if bool(torch.rand(1, generator=gen) < 0.2):
            mask[:] = True
        g[mask] = 0.0
    elif kind == "scaled":
        exponents = torch.empty(k, dtype=f64).uniform_(-8.0, 8.0, generator=gen)
        g = torch.randn(k, p, generator=gen, dtype=f64) * (10.0**exponents)[:, None]
    elif kind == "collinear":
        u = torch.randn(p, generator=gen, dtype=f64)
        g = torch.randn(k, generator=gen, dtype=f64)[:, None] * u[None, :]
    elif kind == "no_conflict":
        g = torch.rand(k, p, generator=gen, dtype=f64)
    else:
        raise ValueError(kind)
    return g * 10.0**global_exponent


@st.composite
def gradient_sets(draw, min_k: int = 1, max_k: int = MAX_K, kinds: list[str] | None = None):
    """(gradients K×P, names, description) with K in [min_k, max_k]."""
    k = draw(st.integers(min_k, max_k))
    p = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(kinds or KINDS))
    seed = draw(st.integers(0, 2**31 - 1))
    exponent = draw(st.sampled_from([0.0, -8.0, 8.0, -3.5, 5.25]))
    g = make_gradients(kind, k, p, seed, exponent)
    return g, NAMES[:k], f"{kind} k={k} p={p} seed={seed} 10^{exponent}"

