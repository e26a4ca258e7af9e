"""How the random visiting orders of PCGrad, AGP and GradVac come from the generator.

The order matters: projections against several gradients do not commute. To make
a run reproducible from its seed, and to let tests replay the exact order, every
draw goes through these two functions and nothing else touches the generator.

* :func:`orders_per_objective` (PCGrad, GradVac, as in PCGrad's Algorithm 1):
  one ``torch.randperm(K)`` per objective, drawn for objective 0, 1, …, K-1 in
  turn; objective ``i`` visits the others in its permutation's order with ``i``
  itself left out. K draws per step.
* :func:`one_order` (AGP stage 2, as in the official code): a single
  ``torch.randperm(n)`` of the followers per step, used both as the order in
  which followers are finished and as the order each one visits the others.
"""

from __future__ import annotations

import torch


def one_order(n: int, generator: torch.Generator) -> list[int]:
    """A random permutation of ``range(n)`` (one draw)."""
    return torch.randperm(n, generator=generator).tolist()


def orders_per_objective(k: int, generator: torch.Generator) -> list[list[int]]:
    """For each objective ``i`` the others in random order (K draws, in objective order)."""
    orders = []
    for i in range(k):
        perm = torch.randperm(k, generator=generator).tolist()
        orders.append([j for j in perm if j != i])
    return orders
