"""Layer matching: Drive-KD group windows, uniform groups, pairs, identity."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.registry import MATCHINGS
from harness.signals import group_matching, uniform_matching
from harness.signals.matching import MatchingError, identity_matching, pairs_matching


def test_drive_kd_example_1b_vs_8b():
    """InternVL3-1B (24 layers) vs 8B (28), range 0..-2: k = 23, m = 27, g = 5."""
    student, teacher = list(range(0, 23)), list(range(0, 27))
    groups = group_matching(student, teacher)
    assert len(groups) == 23
    assert all(len(g) == 5 for g in groups)
    assert groups[0] == [0, 1, 2, 3, 4]
    assert groups[1] == [1, 2, 3, 4, 5]
    assert groups[22] == [22, 23, 24, 25, 26]


def test_teacher_shallower_than_student():
    groups = group_matching([0, 1, 2, 3, 4], [10, 11, 12])
    assert groups == [[10], [11], [12], [12], [12]]


@given(k=st.integers(1, 40), m=st.integers(1, 40), offset=st.integers(0, 5))
def test_group_windows_properties(k, m, offset):
    teacher = [offset + i for i in range(m)]
    groups = group_matching(list(range(k)), teacher)
    g = max(1, m - k + 1)
    assert len(groups) == k
    for i, group in enumerate(groups):
        assert len(group) == g
        assert set(group) <= set(teacher)
        if m >= k:
            assert group == teacher[i:i + g]  # window starts at i, stride 1
    if m >= k:
        assert {t for grp in groups for t in grp} == set(teacher)  # every teacher layer is used


@given(k=st.integers(1, 30), m=st.integers(1, 30))
def test_uniform_groups_properties(k, m):
    teacher = list(range(100, 100 + m))
    groups = uniform_matching(list(range(k)), teacher)
    assert len(groups) == k and all(groups)
    flat = [t for grp in groups for t in grp]
    assert flat == sorted(flat)  # monotone
    if m >= k:
        assert flat == teacher  # a partition: non-overlapping, every layer once


def test_identity_and_pairs():
    assert identity_matching([0], [0]) == [[0]]
    with pytest.raises(MatchingError, match="one to one"):
        identity_matching([0, 1, 2], [0, 1])
    assert pairs_matching([0, 3, 0], [1, 5, 2]) == [[1, 2], [5]]


def test_registered_names():
    assert {"group", "uniform", "pairs", "none"} <= set(MATCHINGS.names())


def test_empty_sides_raise():
    with pytest.raises(MatchingError):
        group_matching([], [1])
    with pytest.raises(MatchingError):
        uniform_matching([1], [])
