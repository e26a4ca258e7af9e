"""The negative control's permutation: same values in each row and image, wrong places, deterministic."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.signals.controls import column_permutation, derangement, image_runs, permute_image_columns


@st.composite
def layouts(draw):
    """A batch of image masks with 0–3 images of 1–6 tokens each, separated by text, and softmax maps."""
    batch = draw(st.integers(1, 3))
    masks = []
    for _ in range(batch):
        row: list[bool] = [False] * draw(st.integers(0, 3))
        for _ in range(draw(st.integers(0, 3))):
            row += [True] * draw(st.integers(1, 6)) + [False] * draw(st.integers(1, 3))
        masks.append(row)
    seq = max(len(r) for r in masks) + draw(st.integers(1, 2))
    image = torch.tensor([r + [False] * (seq - len(r)) for r in masks], dtype=torch.bool)
    seed = draw(st.integers(0, 2**31))
    logits = torch.randn(batch, seq, seq, generator=torch.Generator().manual_seed(seed))
    return image, torch.softmax(logits, dim=-1), [f"s{i}" for i in range(batch)], seed % 1000


@settings(max_examples=60, deadline=None)
@given(layouts())
def test_each_image_keeps_its_values_in_each_row_in_other_columns(layout):
    image, maps, ids, seed = layout
    permuted = permute_image_columns(maps, image, ids, seed)
    assert torch.allclose(permuted.sum(dim=-1), maps.sum(dim=-1))  # row sums
    for i in range(len(ids)):
        other = ~image[i]
        assert torch.equal(permuted[i][:, other], maps[i][:, other])  # non-image columns untouched
        for start, end in image_runs(image[i]):
            before, after = maps[i][:, start:end], permuted[i][:, start:end]
            # every row holds the same multiset of values on this image …
            assert torch.equal(before.sort(dim=-1).values, after.sort(dim=-1).values)
            # … each column moved elsewhere within it (a derangement), the same move for every row
            order = column_permutation(image[i], ids[i], seed)[start:end] - start
            assert torch.equal(after, before[:, order])
            if end - start >= 2:
                assert bool((order != torch.arange(end - start)).all())


def test_the_permutation_is_deterministic_per_sample_and_seed():
    image = torch.tensor([False] + [True] * 8 + [False, False] + [True] * 8 + [False])
    a = column_permutation(image, "frame-1/q3", 0)
    assert torch.equal(a, column_permutation(image, "frame-1/q3", 0))
    assert not torch.equal(a, column_permutation(image, "frame-1/q3", 1))
    assert not torch.equal(a, column_permutation(image, "frame-2/q3", 0))
    assert not torch.equal(a[1:9] - 1, a[11:19] - 11)  # each image draws its own
    assert sorted(a[1:9].tolist()) == list(range(1, 9)) and a[0] == 0 and a[9] == 9  # within the image only


def test_image_runs_and_derangements():
    assert image_runs(torch.tensor([True, True, False, True, False, False, True])) == [(0, 2), (3, 4), (6, 7)]
    assert image_runs(torch.tensor([False, False])) == []
    g = torch.Generator().manual_seed(0)
    for n in range(2, 12):
        p = derangement(n, g)
        assert sorted(p.tolist()) == list(range(n)) and bool((p != torch.arange(n)).all())
    assert derangement(1, g).tolist() == [0]
