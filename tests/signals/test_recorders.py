"""Every registered recorder: its tap reads what an eager forward returns, and its targets
survive trim → store (float16 safetensors) → collate back into a batch."""

import pytest
import torch

from harness.data.collate import collate_train
from harness.registry import RECORDERS
from harness.signals import Recording, requests
from harness.train.target_store import TargetStore, TargetStoreWriter

RECORDER_NAMES = RECORDERS.names()


def _layers(loaded):
    return [0, loaded.depth - 1]


def test_the_built_in_recorders_are_registered():
    assert {"attention", "hidden", "logits"} <= set(RECORDER_NAMES)


def test_requests_are_the_union_per_recorder():
    assert requests([("attention", [3, 0]), ("hidden", [1]), ("attention", (0, 5)), ("logits", ())]) == {
        "attention": [0, 3, 5], "hidden": [1], "logits": []}


@pytest.mark.parametrize("name", RECORDER_NAMES)
def test_tap_reads_what_the_eager_forward_returns(name, load_zoo, samples):
    fast, eager = load_zoo("internvl3", "student"), load_zoo("internvl3", "student", attn="eager")
    recorder = RECORDERS.get(name)()
    batch = collate_train(samples, fast)
    with torch.no_grad(), Recording(fast, {name: _layers(fast)}, grad=False) as rec:
        out = fast.model(**batch.model_inputs(), **rec.forward_kwargs)
    taken = rec.read(out)[name]
    with torch.no_grad():
        reference = recorder.eager(eager.model(**batch.model_inputs(), output_attentions=True, output_hidden_states=True))
    assert taken, f"recorder {name} read nothing"
    valid = batch.attention_mask.bool()
    for key, tensor in taken.items():
        # compared where every position is a real token (padded rows differ between attention kernels)
        for i in range(len(batch)):
            n = int(valid[i].sum())
            assert torch.allclose(recorder.trim(tensor[i], n), recorder.trim(reference[key][i], n), atol=1e-5), (name, key)


@pytest.mark.parametrize("name", RECORDER_NAMES)
def test_targets_round_trip_trim_store_collate(name, load_zoo, samples, tmp_path):
    loaded = load_zoo("internvl3", "teacher_s")
    recorder = RECORDERS.get(name)()
    batch = collate_train(samples, loaded)
    lengths = [int(n) for n in batch.attention_mask.sum(dim=1)]
    assert len(set(lengths)) > 1  # right padding is exercised
    with torch.no_grad(), Recording(loaded, {name: _layers(loaded)}, grad=False) as rec:
        out = loaded.model(**batch.model_inputs(), **rec.forward_kwargs)
    taken = rec.read(out)[name]

    writer = TargetStoreWriter(tmp_path / name, shard_samples=2)
    for i, sample in enumerate(samples):
        trimmed = {f"k{j}": recorder.trim(t[i], lengths[i]) for j, t in enumerate(taken.values())}
        assert all(recorder.length(t) == lengths[i] for t in trimmed.values())
        writer.add(sample.id, trimmed)
    store = TargetStore(writer.commit())

    seq = batch.input_ids.shape[1]
    for j, original in enumerate(taken.values()):
        back = recorder.collate([store.get(s.id)[f"k{j}"] for s in samples], seq)
        assert back.shape == original.shape and back.dtype == torch.float32
        for i in range(len(samples)):
            kept = recorder.trim(original[i], lengths[i])
            assert torch.allclose(recorder.trim(back[i], lengths[i]), kept.half().float())
            # everything outside the sample's valid part is padding: zeros
            assert torch.equal(back[i], recorder.pad(recorder.trim(back[i], lengths[i]), seq))
            assert float(back[i].abs().sum()) == pytest.approx(float(kept.half().float().abs().sum()), rel=1e-6)
