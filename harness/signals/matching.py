"""Student ↔ teacher layer matching: which teacher layers form each student layer's target.

A matching turns the student's resolved layers and the teacher's resolved layers
(the same layer spec, each resolved against its own depth) into one group of
teacher layers per student layer; the target is the mean of the group's maps.
Pure functions of index lists, so they are property-tested without models.
"""

from __future__ import annotations

from typing import Sequence

from harness.errors import HarnessError
from harness.registry import MATCHINGS


class MatchingError(HarnessError, ValueError):
    """Layers that cannot be matched (empty ranges, counts that do not line up, bad pairs)."""


def group_matching(student_layers: Sequence[int], teacher_layers: Sequence[int]) -> list[list[int]]:
    """Drive-KD's layer-group matching: overlapping windows of g = max(1, m - k + 1) teacher layers.

    Student layer i (0-based within its range) is matched to teacher layers
    i … i+g-1 of the teacher's range (stride 1, so windows overlap). When the
    teacher has fewer layers in range (m < k), g = 1 and the extra student layers
    map to the teacher's last layer. E.g. k = 23, m = 27 → g = 5.
    """
    k, m = len(student_layers), len(teacher_layers)
    if k == 0 or m == 0:
        raise MatchingError(f"group matching needs layers on both sides (student {k}, teacher {m})")
    g = max(1, m - k + 1)
    return [[teacher_layers[min(i + j, m - 1)] for j in range(g)] for i in range(k)]


def uniform_matching(student_layers: Sequence[int], teacher_layers: Sequence[int]) -> list[list[int]]:
    """Non-overlapping contiguous groups: the teacher range is split into k near-equal parts.

    Group i covers teacher positions floor(i·m/k) … floor((i+1)·m/k) − 1; when
    m < k a group would be empty, so student i takes teacher position floor(i·m/k).
    Every teacher layer is used exactly once when m ≥ k.
    """
    k, m = len(student_layers), len(teacher_layers)
    if k == 0 or m == 0:
        raise MatchingError(f"uniform matching needs layers on both sides (student {k}, teacher {m})")
    groups = []
    for i in range(k):
        lo, hi = (i * m) // k, ((i + 1) * m) // k
        groups.append([teacher_layers[p] for p in range(lo, max(hi, lo + 1))])
    return groups


def identity_matching(student_layers: Sequence[int], teacher_layers: Sequence[int]) -> list[list[int]]:
    """One-to-one in order (``first`` ↔ ``first``, ``penultimate`` ↔ ``penultimate``)."""
    if len(student_layers) != len(teacher_layers):
        raise MatchingError(
            f"matching 'none' pairs layers one to one, but the spec selects {len(student_layers)} student and "
            f"{len(teacher_layers)} teacher layers; use matching: group or uniform for ranges of different sizes"
        )
    return [[t] for t in teacher_layers]


# Registered matchings take (student_layers, teacher_layers); `pairs` is resolved separately
# because its layers come from the pair list, not from the layer spec.
MATCHINGS.register("group", description="Drive-KD overlapping windows: student i ↔ mean of teacher i..i+g-1, g = max(1, m-k+1)")(group_matching)
MATCHINGS.register("uniform", description="non-overlapping contiguous teacher groups of near-equal size")(uniform_matching)
MATCHINGS.register("none", description="one-to-one in order (single layers: first ↔ first, penultimate ↔ penultimate)")(identity_matching)


def pairs_matching(student_layers: Sequence[int], teacher_layers: Sequence[int]) -> list[list[int]]:
    """Explicit ``pairs: [[student, teacher], …]``; a student layer listed twice averages its teachers."""
    groups: dict[int, list[int]] = {}
    for s, t in zip(student_layers, teacher_layers):
        groups.setdefault(s, [])
        if t not in groups[s]:
            groups[s].append(t)
    return [groups[s] for s in groups]


MATCHINGS.register("pairs", description="explicit [student, teacher] layer pairs from the signal's `pairs` list")(pairs_matching)
