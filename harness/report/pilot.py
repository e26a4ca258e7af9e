"""Pilot runs → the variance components `harness power` plans with.

A pilot is a few runs of one configuration (a recipe, several seeds) or of a few
configurations, evaluated like any run. From them: how much a run's score moves
from seed to seed (``seed_sd``, pooled over configurations), and how much two
runs of one configuration differ cluster by cluster (``cluster_sd``, from the
paired difference of consecutive seeds). The math is in :mod:`harness.report.power`.
"""

from __future__ import annotations

import math

import numpy as np

from harness.data.types import CAPABILITIES
from harness.report.collect import Collected, ReportInputError
from harness.report.power import Variability, cluster_sd, pooled_sd
from harness.report.spec import UNIT_WORDS
from harness.report.tables import cluster_labels

PILOT_METRICS = (*CAPABILITIES, "avg")


def _item_weights(capability: np.ndarray, metric: str) -> np.ndarray:
    """Weights over items whose weighted mean is the metric (Avg. = mean of the capability means)."""
    if metric != "avg":
        return (capability == metric).astype(float)
    present = [c for c in CAPABILITIES if (capability == c).any()]
    weights = np.zeros(capability.size)
    for c in present:
        mask = capability == c
        weights[mask] = 1.0 / (len(present) * mask.sum())
    return weights


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(x) & (w > 0)
    return float((x[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else math.nan


def variability(collected: Collected, *, metric: str = "avg", setting: str = "clean",
                unit: str = "frame_token") -> Variability:
    """Seed and cluster variability of ``metric`` in ``setting`` from pilot runs.

    Runs with the same configuration hash (run.json ``config_hash``; seeds share it) are
    seeds of one configuration. At least one
    configuration needs two seeds; otherwise there is nothing to tell seed noise from.
    """
    if metric not in PILOT_METRICS:
        raise ReportInputError(f"metric {metric!r} is not one of {', '.join(PILOT_METRICS)}")
    items = collected.items
    frame = items[items["setting"].astype(str) == setting]
    if frame.empty:
        have = sorted(items["setting"].dropna().astype(str).unique())
        raise ReportInputError(f"pilot runs have no scores in setting {setting!r}; they have: {', '.join(have) or 'none'}")
    matrix = frame.pivot_table(index="run_id", columns="item_id", values="judge_total", aggfunc="first",
                               dropna=False)
    capability = frame.drop_duplicates("item_id").set_index("item_id")["capability"].reindex(matrix.columns)
    weights = _item_weights(capability.to_numpy(dtype=str), metric)
    if not (weights > 0).any():
        raise ReportInputError(f"pilot runs have no {metric} items in setting {setting!r}")
    labels, why = cluster_labels(frame, unit)
    clusters = None if labels is None else np.array([labels[i] for i in matrix.columns], dtype=object)
    configs: dict[str, list[str]] = {}
    for run_id, config in zip(collected.runs["run_id"], collected.runs["config_hash"].fillna(collected.runs["run_id"])):
        if run_id in matrix.index:
            configs.setdefault(str(config), []).append(run_id)
    means, pair_sds = [], []
    for runs in configs.values():
        rows = [matrix.loc[r].to_numpy(dtype=float) for r in runs]
        means.append(np.array([_weighted_mean(x, weights) for x in rows]))
        for first, second in zip(rows, rows[1:]):
            pair_sds.append(cluster_sd(first - second, clusters, weights))
    seed_sd, dof = pooled_sd(means)
    if dof == 0:
        raise ReportInputError(f"pilot: {len(collected.runs)} run(s) of {len(configs)} configuration(s), none with two "
                               "seeds; run one configuration with at least two seeds, or give --seed-sd and --cluster-sd")
    n_items = int((weights > 0).sum())
    used = weights > 0
    n_clusters = n_items if clusters is None else len(set(clusters[used]))
    # two seeds of one configuration stand in for two methods' single runs: their per-cluster
    # difference is what a paired test over clusters sees (method-by-item effects aside)
    cluster = math.sqrt(float(np.mean(np.square(pair_sds))))
    where = UNIT_WORDS[unit] if clusters is not None else f"items ({why})" if why else "items"
    source = (f"{len(collected.runs)} pilot runs of {len(configs)} configuration(s), {metric}, setting {setting}, "
              f"{n_clusters} {where}; {dof} degree(s) of freedom for the seed sd")
    return Variability(seed_sd=seed_sd, cluster_sd=cluster, items_per_cluster=n_items / n_clusters, n_items=n_items,
                       source=source)
