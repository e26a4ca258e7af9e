"""What a step's Gramian says about the objectives, at no extra backward.

Pure: Gramian, names and weights in, a JSON-able dict out (no NaN: an undefined
cosine, next to a zero gradient, is ``None``). The trainer appends it to
metrics.jsonl each step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def diagnostics(gramian: Tensor | None, names: list[str], weights: Tensor) -> dict:
    """Pairwise cosines, the conflicting pairs, gradient norms and the final weights by name.

    A pair conflicts when the inner product of its gradients is negative. The norm
    after combination is that of ``sum_k w_k g_k``, which is ``sqrt(w^T G w)``: read
    off the Gramian, no pass over the parameters. With no Gramian (the
    single-backward ``sum`` path) only the weights are reported.
    """
    names = list(names)
    record: dict = {"weights": {n: float(w) for n, w in zip(names, weights.tolist())}}
    if gramian is None:
        return record
    g = torch.as_tensor(gramian, dtype=torch.float64).cpu()
    norms = [math.sqrt(max(0.0, float(g[i, i]))) for i in range(len(names))]
    cosine: dict[str, dict[str, float | None]] = {}
    conflicting: list[list[str]] = []
    for i, a in enumerate(names):
        cosine[a] = {}
        for j, b in enumerate(names):
            if norms[i] > 0.0 and norms[j] > 0.0 and math.isfinite(norms[i] * norms[j]):
                cosine[a][b] = max(-1.0, min(1.0, float(g[i, j]) / (norms[i] * norms[j])))
            else:
                cosine[a][b] = None
            if j > i and float(g[i, j]) < 0.0:
                conflicting.append([a, b])
    record["grad_norms"] = {n: (v if math.isfinite(v) else None) for n, v in zip(names, norms)}
    w = torch.as_tensor(weights, dtype=torch.float64).cpu()
    combined = math.sqrt(max(0.0, float(w @ g @ w)))
    record["combined_norm"] = combined if math.isfinite(combined) else None
    record["cosine"] = cosine
    record["conflicts"] = len(conflicting)
    record["conflicting_pairs"] = conflicting
    return record
