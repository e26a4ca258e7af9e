"""A new kind of target is one recorder and one signal kind: registered here, from a test file,
it runs through the objectives and the teacher cache (disk and live) like the built-ins.

The kind distils vision-encoder features: the language model's input embeddings at the image
tokens, where the family's projector has put the vision tower's output. Its recorder taps them
with a pre-hook on the first decoder layer (no layers to choose, one tensor per forward).
"""

from typing import Any, Mapping, Sequence

import pytest
import torch

from harness.data.collate import collate_train
from harness.recipe.schema import Recipe
from harness.registry import RECORDERS, SIGNALS
from harness.signals.kinds import SignalKind
from harness.signals.recorder import Recorder, Tap
from harness.train.identity import TARGETS_VERSION
from harness.train.objectives import ObjectiveSet
from harness.train.teacher_cache import TeacherCache, store_key
from tests.models.zoo_fixtures import image_paths, load_zoo, samples, zoo_cache  # noqa: F401

FEATURES = "features"


class _EmbeddingTap(Tap):
    def __init__(self, loaded):
        self.layer = loaded.decoder_layers()[0]
        self.forward_kwargs = {}
        self.taken: dict[Any, torch.Tensor] = {}

    def __enter__(self):
        def hook(module, args, kwargs):
            self.taken[FEATURES] = kwargs.get("hidden_states", args[0] if args else None)

        self.handle = self.layer.register_forward_pre_hook(hook, with_kwargs=True)
        return self

    def __exit__(self, *exc):
        self.handle.remove()

    def read(self, outputs):
        return dict(self.taken)


class VisionFeatureRecorder(Recorder):
    """Input embeddings of the language model [batch, sequence, width] (at image tokens: vision features)."""

    def tap(self, loaded, layers: Sequence[int], *, grad: bool) -> Tap:
        return _EmbeddingTap(loaded)

    def eager(self, outputs):
        return {FEATURES: outputs.hidden_states[0]}

    def signals(self, taken: Mapping[Any, torch.Tensor], plan):
        return [taken[FEATURES]]

    def targets(self, taken: Mapping[Any, torch.Tensor], plan):
        return [taken[FEATURES].detach()]

    def width(self, loaded) -> int:
        config = getattr(loaded.model.config, "text_config", loaded.model.config)
        return int(config.hidden_size)

    def comparable(self, signal, target) -> bool:
        return signal.shape[:-1] == target.shape[:-1]


class VisionFeatures(SignalKind):
    """Vision-encoder features as the language model receives them, compared at the image tokens."""

    needs = "vision_features"
    uses_layers = False

    def entry_mask(self, batch) -> torch.Tensor:
        return (batch.image_mask.bool() & batch.attention_mask.bool())[:, :, None]


@pytest.fixture
def vision_features():
    RECORDERS.add("vision_features", VisionFeatureRecorder)
    SIGNALS.add("vision_features", VisionFeatures)
    yield
    SIGNALS.unregister("vision_features")
    RECORDERS.unregister("vision_features")


def _spec():
    return Recipe.model_validate({
        "name": "vision",
        "student": {"family": "internvl3", "zoo": "student"},
        "teachers": {"teacher": {"family": "internvl3", "zoo": "teacher_s"}},
        "objectives": {"ce": {"weight": 1.0},
                       "perception": {"teacher": "teacher", "signal": {"type": "vision_features"}, "loss": "hidden"}},
    })


def _cache(objectives, teacher, mode, root):
    return TeacherCache(objectives, {"teacher": teacher}, teacher_ids={"teacher": "teacher_s"}, data_id="d",
                        template_id="t", mode=mode, root=root, batch_size=2, progress=False)


def test_a_recorder_registered_in_a_test_runs_through_the_teacher_cache(vision_features, load_zoo, samples, tmp_path):
    student, teacher = load_zoo("internvl3", "student"), load_zoo("internvl3", "teacher_s")
    objectives = ObjectiveSet(_spec(), student, {"teacher": teacher})
    objectives.prepare({"teacher": teacher})
    assert objectives.student_requests() == {"vision_features": []}
    assert objectives.extra_parameters(), "the student→teacher width projection was prepared from the recorder's widths"

    disk = _cache(objectives, teacher, "disk", tmp_path)
    disk.prepare(samples)
    store = disk.stores["perception"]
    lengths = collate_train(samples, teacher).attention_mask.sum(dim=1).tolist()
    for sample, n in zip(samples, lengths):  # stored trimmed to the sample, at the teacher's width
        assert store.get(sample.id)["t0"].shape == (int(n), VisionFeatureRecorder().width(teacher))

    batch = collate_train(samples, student)
    cached = disk.for_batch(samples, batch)["perception"]
    live = _cache(objectives, teacher, "live", tmp_path).for_batch(samples, batch)["perception"]
    with torch.no_grad():
        eager = teacher.model(**batch.model_inputs(), output_hidden_states=True).hidden_states[0]
    image = batch.image_mask.bool()
    assert torch.allclose(live[0][image], eager[image], atol=1e-6)
    assert torch.allclose(cached[0][image], live[0][image], atol=2e-3, rtol=1e-2)  # float16 storage

    out = objectives.forward_student(batch)
    l_cached, l_live = objectives.losses(out, batch, {"perception": cached}), objectives.losses(out, batch, {"perception": live})
    assert l_cached["perception"].item() > 0
    assert l_cached["perception"].item() == pytest.approx(l_live["perception"].item(), rel=1e-2)
    l_cached["perception"].backward()
    projector = [p for n, p in student.model.named_parameters() if "multi_modal_projector" in n]
    assert projector and all(p.grad is not None for p in projector)  # the gradient reaches the vision path
    assert objectives.extra_parameters()[0].grad is not None  # and the learned width projection
    student.model.zero_grad(set_to_none=True)


def test_recorder_version_enters_the_store_key_only_past_one(vision_features, load_zoo):
    student, teacher = load_zoo("internvl3", "student"), load_zoo("internvl3", "teacher_s")
    d = ObjectiveSet(_spec(), student, {"teacher": teacher}).distill[0]
    # a version-1 recorder keeps the key stores were built under before recorders existed
    assert store_key(d, "w", "d", "t") == {"version": TARGETS_VERSION, "teacher": "w", "data": "d", "template": "t",
                                           "signal": d.describe()}
    VisionFeatureRecorder.version = 2
    try:
        assert store_key(d, "w", "d", "t")["recorder"] == {"name": "vision_features", "version": 2}
    finally:
        VisionFeatureRecorder.version = 1
