"""The combiner interface and the exact "coefficient row" arithmetic they share.

Every combiner here turns the K×K Gramian ``G[i, j] = <g_i, g_j>`` of the
objectives' gradients into K weights ``w`` so that the update is
``sum_k w_k g_k``. That works exactly (not approximately) for projection methods
such as PCGrad and AGP because every intermediate vector they build is a linear
combination of the K original gradients: we keep it as a *coefficient row*
``a`` (length K, meaning ``v = sum_k a_k g_k``) and read every inner product
``<v, u> = a^T G b`` off the Gramian. The P-dimensional gradients are never
needed, so a combiner costs O(K^3) however large the model is.

Numerics. Gramian entries carry rounding of about ``eps * |g_i| |g_j|``. An
inner product computed through ``G`` therefore has an absolute error of about
``eps * budget(a) * budget(b)``, where ``budget(a) = sum_k |a_k| |g_k|`` is the
size of the terms the vector was formed from. Dividing by ``|v|^2`` is only
trustworthy while ``|v|`` is not a tiny remainder of a large cancellation, so a
vector counts as *negligible* (treated as zero: nothing is projected onto it)
when ``|v| <= NEGLIGIBLE_RTOL * budget(v)``. An exactly zero gradient is always
negligible, so zero gradients never produce NaN or Inf. With the default
``NEGLIGIBLE_RTOL = 1e-4`` the relative error of a projection stays near
``eps / 1e-8 ~ 2e-8``. Original gradients are never negligible unless zero.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from harness.errors import HarnessError

NEGLIGIBLE_RTOL = 1e-4


class CombinerError(HarnessError, ValueError):
    """A combiner's options do not fit the objectives of the run (e.g. a missing anchor)."""


class Combiner:
    """Base class: weights over the objectives' gradients from their Gramian.

    Subclasses implement :meth:`weights`. Their keyword constructor arguments are
    their recipe options. Combiners with memory across steps override
    :meth:`state_dict` / :meth:`load_state_dict` (checkpoints call them).
    """

    #: The name the combiner is registered under (set by subclasses, for messages).
    name: str = "combiner"
    #: Enters every run's identity: bump it when a change alters the weights a combiner returns.
    version: int = 1
    #: False when the weights ignore the Gramian (then one backward of the weighted loss suffices).
    needs_gramian: bool = True

    def check_names(self, names: list[str]) -> None:
        """Raise :class:`CombinerError` when the objectives do not suit this combiner's options."""

    def weights(self, gramian: Tensor, names: list[str], generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def static_weights(self, names: list[str]) -> Tensor | None:
        """Weights that need no Gramian (a combiner with ``needs_gramian = False`` gives them), else None."""
        return None

    def __call__(self, gramian: Tensor, names: list[str], generator: torch.Generator | None = None) -> Tensor:
        """K float64 weights for the K objectives ``names`` given their Gramian.

        A non-finite Gramian (an fp16 overflow, say) yields weights of one: the
        plain sum carries the Inf/NaN into ``.grad`` where a loss scaler will see
        it and skip the step, and no combiner state is touched.
        """
        names = list(names)
        gramian = torch.as_tensor(gramian).detach().to(device="cpu", dtype=torch.float64)
        k = len(names)
        if gramian.shape != (k, k):
            raise ValueError(f"combiner '{self.name}': Gramian of shape {tuple(gramian.shape)} for {k} objectives {names}")
        if len(set(names)) != k:
            raise ValueError(f"combiner '{self.name}': objective names repeat: {names}")
        self.check_names(names)
        if k == 0:
            return torch.zeros(0, dtype=torch.float64)
        if not bool(torch.isfinite(gramian).all()):
            return torch.ones(k, dtype=torch.float64)
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        w = self.weights(gramian, names, generator)
        return torch.as_tensor(w, dtype=torch.float64).reshape(k)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"combiner '{self.name}' keeps no state but was given {sorted(state)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# --- coefficient-row arithmetic over the Gramian ---------------------------------


def unit(k: int, i: int) -> Tensor:
    """The coefficient row of the original gradient ``g_i``."""
    row = torch.zeros(k, dtype=torch.float64)
    row[i] = 1.0
    return row


def inner(a: Tensor, b: Tensor, gramian: Tensor) -> float:
    """``<sum a_k g_k, sum b_k g_k>`` through the Gramian."""
    return float(a @ gramian @ b)


def budget(a: Tensor, gramian: Tensor) -> float:
    """``sum_k |a_k| |g_k|``: the size of the terms a vector was formed from."""
    norms = gramian.diagonal().clamp_min(0.0).sqrt()
    return float(a.abs() @ norms)


def squared_norm_if_usable(a: Tensor, gramian: Tensor) -> float | None:
    """``|v|^2`` for the vector with row ``a``, or None when it is negligible (see module doc)."""
    sq = inner(a, a, gramian)
    scale = budget(a, gramian)
    if not math.isfinite(sq) or sq <= (NEGLIGIBLE_RTOL * scale) ** 2 or sq <= 0.0:
        return None
    return sq


def remove_conflict(t: Tensor, m: Tensor, gramian: Tensor) -> Tensor:
    """Project ``t`` onto the normal plane of ``m`` when they conflict (``<t, m> < 0``).

    ``t - (<t, m> / |m|^2) m``; ``t`` unchanged when there is no conflict or ``m``
    is negligible. The projection is continuous at ``<t, m> = 0``, so a sign
    decision that rounding flips changes the result only by rounding.
    """
    sq = squared_norm_if_usable(m, gramian)
    if sq is None:
        return t
    dot = inner(t, m, gramian)
    if dot < 0.0:
        return t - (dot / sq) * m
    return t
