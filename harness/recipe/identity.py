"""A run's identity: the hash of its configuration, not of the file it was written in.

The resolved recipe (what ``recipe.resolved.yaml`` holds) carries every component's
options with their defaults filled in, the default mixing, and the ``version`` of every
component it uses, so a changed default or a changed component makes a new run instead
of silently reusing an old "finished" one. Its *configuration* is the resolved recipe
without what does not change the trained weights or the scores:

- labels: ``name`` (already the run's folder), ``description`` and ``seed`` (the
  folder's ``-s<seed>``, so the seeds of one configuration share its ``<hash8>``);
- operational fields (:data:`OPERATIONAL`): logging and checkpoint cadence, the
  generation batch size, where the teacher cache lives, how many workers decode
  images and how teachers are spread over the node's devices, the experiment trackers;
- each component's operational options (a class attribute ``operational``: the http
  judge's concurrency and timeouts, say).

A model named by ``path`` (the student or a teacher) enters by its folder's content
(:func:`harness.integrity.source_identity`), not by where it lies: the same study run from
another checkout or copy of its teachers reuses its runs, and a teacher rebuilt in place
makes new ones. A path that is not a folder (yet) enters as written.

Run folders are ``<config-hash8>-s<seed>``. Folders named by the first identity (the
recipe as written, seed included) are recognised through :func:`legacy_hash`.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from harness.integrity import content_hash, source_identity

LABELS: tuple[str, ...] = ("name", "description", "seed")
OPERATIONAL: tuple[tuple[str, ...], ...] = (
    ("train", "log_every"),
    ("train", "grad_norms_every"),  # measured beside the update, which stays bit for bit the same
    ("train", "checkpoint_every"),
    ("eval", "batch_size"),
    ("cache", "dir"),
    ("train", "num_workers"),
    ("placement",),
    ("train", "trackers"),  # where a run is watched from is not what it is
)


def canonical_order(data: Any) -> Any:
    """``data`` with every mapping's keys sorted, recursively (lists keep their order).

    Applied before validation, so the order a recipe lists its objectives or teachers
    in never changes what runs: the run trains in the order ``recipe.resolved.yaml``
    (sorted keys) reads back.
    """
    if isinstance(data, dict):
        return {k: canonical_order(data[k]) for k in sorted(data, key=str)}
    if isinstance(data, list):
        return [canonical_order(v) for v in data]
    return data


def _drop(data: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = data
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def configuration(resolved: dict[str, Any], operational: Iterable[tuple[str, ...]] = ()) -> dict[str, Any]:
    """The part of the resolved recipe that decides the results (see the module doc)."""
    config = copy.deepcopy({k: v for k, v in resolved.items() if k not in LABELS})
    for path in (*OPERATIONAL, *operational):
        _drop(config, tuple(path))
    if isinstance(config.get("student"), dict):
        config["student"] = source_identity(config["student"])
    for key, teacher in (config.get("teachers") or {}).items():
        if isinstance(teacher, dict):
            config["teachers"][key] = source_identity(teacher)
    return config


def config_hash(resolved: dict[str, Any], operational: Iterable[tuple[str, ...]] = ()) -> str:
    """sha256 of the canonical :func:`configuration`: what names ``<config-hash8>-s<seed>``."""
    return content_hash(configuration(resolved, operational))


def legacy_hash(as_written: dict[str, Any]) -> str:
    """The first identity: the schema dump of the recipe as written, without ``description``."""
    data = copy.deepcopy({k: v for k, v in as_written.items() if k not in ("description", "versions")})
    for path in (("train", "trackers"), ("train", "grad_norms_every")):  # fields the first identity's schema did not have
        _drop(data, path)
    for teacher in (data.get("teachers") or {}).values():
        if isinstance(teacher, dict) and teacher.get("control") is None:
            teacher.pop("control", None)
    return content_hash(data)
