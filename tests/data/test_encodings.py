"""The encoding memo: a sample met again is collated from memory into the very batch a fresh collation makes."""

from __future__ import annotations

import pytest
import torch

from harness.data.collate import collate_train
from harness.data.encodings import EncodingMemo, encoding_bytes
from harness.models import load_model
from harness.train.batches import MicroBatchStream
from tests.models.zoo_fixtures import image_paths, samples, zoo_cache  # noqa: F401


def assert_same_batch(got, want) -> None:
    assert got.ids == want.ids
    assert got.inputs.keys() == want.inputs.keys()
    for key, value in want.inputs.items():
        assert torch.equal(got.inputs[key], value), key
    assert torch.equal(got.labels, want.labels)
    assert torch.equal(got.image_mask, want.image_mask)
    assert torch.equal(got.capabilities, want.capabilities)


@pytest.mark.parametrize("family", ["internvl3", "qwen2_5_vl"])
def test_a_remembered_sample_collates_to_the_batch_a_fresh_collation_makes(family, samples, zoo_cache):
    loaded = load_model({"family": family, "zoo": "student"})
    memo = EncodingMemo()
    first = collate_train(samples, loaded, memo=memo)
    assert (memo.hits, memo.misses, len(memo)) == (0, 3, 3)
    again = [samples[2], samples[0]]  # other order, other padding width
    got = collate_train(again, loaded, memo=memo)
    assert (memo.hits, memo.misses) == (2, 3)
    assert_same_batch(got, collate_train(again, loaded))
    assert_same_batch(collate_train(samples, loaded, memo=memo), first)


def test_a_full_memo_keeps_what_it_holds_and_adds_nothing(samples, zoo_cache):
    loaded = load_model({"family": "internvl3", "zoo": "student"})
    probe = EncodingMemo()
    collate_train(samples[:1], loaded, memo=probe)
    memo = EncodingMemo(max_bytes=probe.bytes)  # room for the first sample only
    collate_train(samples, loaded, memo=memo)
    assert len(memo) == 1 and memo.bytes == probe.bytes <= memo.max_bytes
    assert_same_batch(collate_train(samples, loaded, memo=memo), collate_train(samples, loaded))
    assert memo.hits == 1


def test_encoding_bytes_counts_every_tensor_once_per_reference():
    value = ({"a": torch.zeros(3, dtype=torch.float32), "b": torch.zeros(2, dtype=torch.long)}, [1, 2], 0)
    assert encoding_bytes(value) == 3 * 4 + 2 * 8
    with pytest.raises(ValueError, match="max_bytes"):
        EncodingMemo(max_bytes=-1)


def test_the_stream_uses_the_memo_only_when_it_collates_in_process(samples, zoo_cache):
    loaded = load_model({"family": "internvl3", "zoo": "student"})
    micro = [samples[:2], samples[2:3]]
    memo = EncodingMemo()
    for _ in range(2):  # two epochs: the second is all hits
        got = MicroBatchStream(loaded, micro, memo=memo).take(5)
        for samples_, batch in got:
            assert_same_batch(batch, collate_train(samples_, loaded))
    assert (memo.misses, memo.hits) == (3, 3)
    elsewhere = EncodingMemo()
    MicroBatchStream(loaded, micro, num_workers=1, memo=elsewhere).take(5)
    assert len(elsewhere) == 0 and elsewhere.misses == 0  # workers collate off the loop's path, without it
