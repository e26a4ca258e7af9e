"""Mechanism metrics: the object's image tokens, its share of attention, student–teacher agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import stats as sp

from harness.data.synthetic.geometry import place
from harness.data.synthetic.scene import Scene, SceneObject
from harness.data.types import EvalItem, ObjectRef
from harness.eval import mechanism as M
from harness.eval.attention_maps import capture_text_to_vision, object_columns, referred_object
from harness.models import load_model
from harness.registry import FAMILIES as REGISTERED

FAMILIES = REGISTERED.names()
GRID = (4, 4)


def _item(tmp_path, obj: SceneObject | None = None, *, refs=(), question="What is it?", answer="A car.") -> EvalItem:
    image = tmp_path / "front.png"
    if not image.exists():
        Image.new("RGB", (56, 56), (90, 90, 90)).save(image)
    raw = {}
    if obj is not None:
        scene = Scene(id="s", cameras=("CAM_FRONT",), steering="straight", speed="normal", time="day", objects=[obj])
        raw = {"facts": {"object": obj.id}, "scene": scene.to_json()}
    return EvalItem(id="s:q", question=question, answer=answer, question_type="perception", tag=0,
                    capability="perception", kind="open", cameras={"CAM_FRONT": str(image)}, objects=tuple(refs),
                    frame_token="f0", raw=raw)


# -- which tokens an object covers -----------------------------------------------------
def test_a_hand_made_box_covers_the_cells_it_overlaps():
    # x 0.30-0.55 overlaps columns 1 (0.25-0.5) and 2 (0.5-0.75); y 0.55-0.80 rows 2 and 3
    cells = M.box_cells((0.30, 0.55, 0.55, 0.80), GRID).reshape(GRID)
    expected = np.zeros(GRID, dtype=bool)
    expected[2:4, 1:3] = True
    assert (cells == expected).all()
    # a box touching a boundary does not own the next cell; a tiny box owns the cell it lies in
    assert M.box_cells((0.0, 0.0, 0.25, 0.25), GRID).nonzero()[0].tolist() == [0]
    assert M.box_cells((0.6, 0.6, 0.6, 0.6), GRID).nonzero()[0].tolist() == [2 * 4 + 2]
    assert M.box_cells((-0.5, 0.9, 0.1, 1.7), GRID).nonzero()[0].tolist() == [12]  # clipped to the image
    assert M.point_cells(0.99, 0.01, GRID).nonzero()[0].tolist() == [3]


def test_a_laid_out_scene_object_maps_to_its_drawn_box(tmp_path):
    """A near car in the ego lane, placed by the synthetic geometry: its box from the scene graph."""
    car = SceneObject(id="c1", cls="car", color="red", camera="CAM_FRONT", lane=0, distance="near", status="stopped")
    place(car, 0.0)  # box (0.3895, 0.7655, 0.6105, 0.9100)
    item = _item(tmp_path, car)
    assert referred_object(item)[0] == "CAM_FRONT"
    cells = object_columns(item, [GRID]).reshape(GRID)
    expected = np.zeros(GRID, dtype=bool)
    expected[3, 1:3] = True  # row 0.75-1.0 (y 0.77-0.91), columns 0.25-0.75 (x 0.39-0.61)
    assert (cells == expected).all()
    # two images: the object's camera is the first; the second image contributes no object tokens
    two = object_columns(item, [GRID, (2, 2)])
    assert two.shape == (20,) and not two[16:].any() and (two[:16] == cells.reshape(-1)).all()


def test_a_drivebench_reference_gives_the_cell_of_its_centre(tmp_path):
    ref = ObjectRef(id="c3", camera="CAM_FRONT", x=0.8, y=0.3, text="<c3,CAM_FRONT,0.8,0.3>")
    item = _item(tmp_path, refs=[ref])
    assert object_columns(item, [GRID]).nonzero()[0].tolist() == [1 * 4 + 3]
    assert object_columns(_item(tmp_path), [GRID]) is None  # no object referred
    other = ObjectRef(id="c1", camera="CAM_BACK", x=0.1, y=0.1, text="")
    assert object_columns(_item(tmp_path, refs=[other]), [GRID]) is None  # its camera is not shown


# -- share on the object ---------------------------------------------------------------
def test_uniform_attention_has_no_lift_and_concentrated_attention_has_exact_lift():
    on = M.box_cells((0.30, 0.55, 0.55, 0.80), GRID)  # 4 of 16 tokens: prior 0.25
    # rows differ in how much they look at the image at all (powers of two: every sum is exact)
    rows = np.array([0.5, 0.25, 0.125, 0.0625, 0.03125])[:, None]
    uniform = np.repeat(rows, 16, axis=1) / 16
    assert M.object_share(uniform, on) == (0.25, 0.25)
    concentrated = np.zeros((5, 16))
    concentrated[:, on] = rows / 4
    assert M.object_share(concentrated, on) == (1.0, 0.25)
    half = uniform * 0.5 + concentrated * 0.5  # half uniform, half on the object
    assert M.object_share(half, on)[0] == 0.5 * 0.25 + 0.5


def test_localisation_over_items_pairs_share_and_prior():
    on = M.box_cells((0.30, 0.55, 0.55, 0.80), GRID)
    uniform = np.full((3, 16), 0.02)
    peaked = np.zeros((3, 16))
    peaked[:, on] = 0.05

    def maps(block, i):
        return M.ItemMaps(f"i{i}", f"f{i // 2}", {"first": block}, {"first": 0}, on, (1, 2, 3))

    flat = M.localisation([maps(uniform, i) for i in range(6)], "first", n_resamples=500)
    assert flat["lift"].mean == pytest.approx(0.0, abs=1e-12) and flat["share"].mean == pytest.approx(0.25)
    assert flat["row_entropy"].mean == pytest.approx(1.0)
    looks = M.localisation([maps(peaked, i) for i in range(6)], "first", n_resamples=500)
    assert looks["lift"].mean == pytest.approx(0.75) and looks["lift"].unit == "clusters"
    assert looks["lift"].n_units == 3 and looks["lift"].p_value < 0.01
    assert looks["row_entropy"].mean == pytest.approx(math.log(4) / math.log(16))
    # items without a referred object are left out of the share, not counted as 0
    none = M.ItemMaps("x", "f9", {"first": peaked}, {"first": 0}, None, (1,))
    assert M.localisation([maps(peaked, 0), none], "first", n_resamples=200)["share"].n_items == 1


# -- agreement -------------------------------------------------------------------------
def test_identical_maps_agree_perfectly():
    rng = np.random.default_rng(0)
    block = rng.random((7, 16))
    mse, corr, where = M.map_agreement(block, block.copy())
    assert mse == 0.0 and corr == pytest.approx(1.0) and where == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(2, 20), st.integers(0, 2**31 - 1))
def test_agreement_equals_numpy_and_scipy(rows, cols, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random((rows, cols)), rng.random((rows, cols))
    mse, corr, where = M.map_agreement(a, b)
    assert mse == pytest.approx(float(((a - b) ** 2).mean()))
    assert corr == pytest.approx(sp.pearsonr(a.ravel(), b.ravel())[0], abs=1e-9)
    na, nb = a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True)
    assert where == pytest.approx(sp.pearsonr(na.ravel(), nb.ravel())[0], abs=1e-9)
    # scaling each row of one block changes how much it looks, not where: corr_where is unchanged
    assert M.map_agreement(a * rng.uniform(0.1, 3, (rows, 1)), b)[2] == pytest.approx(where, abs=1e-9)


def test_agreement_refuses_different_token_layouts():
    a = M.ItemMaps("i", "f", {"first": np.ones((2, 4))}, {"first": 0}, None, (1, 2))
    b = M.ItemMaps("i", "f", {"first": np.ones((2, 4))}, {"first": 0}, None, (1, 3))
    with pytest.raises(ValueError, match="tokenised differently"):
        M.agreement([a], [b], "first")


def test_estimates_match_the_report_statistics():
    from harness.report import stats

    rng = np.random.default_rng(1)
    a, b = rng.random(40), rng.random(40)
    clusters = np.repeat(np.arange(10), 4).astype(str)
    est = M.paired_estimate(a, b, clusters, n_resamples=2000, seed=3)
    ref = stats.paired_bootstrap(a, b, 2000, 3, clusters=clusters)
    assert (est.mean, est.ci_low, est.ci_high, est.p_value) == pytest.approx(
        (float(ref.mean_diff), float(ref.ci_low), float(ref.ci_high), float(ref.p_value)))
    assert est.n_units == 10 and est.n_items == 40
    mean = M.mean_estimate(np.r_[a, np.nan], None, n_resamples=500)
    assert mean.mean == pytest.approx(a.mean()) and mean.n_items == 40 and mean.unit == "items"
    assert M.mean_estimate([math.nan]).to_dict()["mean"] is None


# -- capture through each family's adapter ---------------------------------------------
def _local_vision(family):
    """A zoo student whose vision tower's attention outputs are zeroed: each image token then
    depends only on its own pixels, so the tokens a pixel change moves show the token layout."""
    loaded = load_model({"family": family, "zoo": "student"})
    with torch.no_grad():
        for name, module in loaded.model.named_modules():
            if "language_model" in name or not isinstance(module, torch.nn.Linear):
                continue
            if "attn" in name or "attention" in name:
                module.weight.zero_()
                if module.bias is not None:
                    module.bias.zero_()
    return loaded


def _image_features(loaded, image: Image.Image) -> torch.Tensor:
    """What the language model receives at the image-token positions for one image."""
    from harness.data.collate import collate_train
    from harness.data.types import TrainSample

    seen = {}

    def keep(module, args, kwargs):
        seen["h"] = kwargs.get("hidden_states", args[0] if args else None)

    handle = loaded.decoder_layers()[0].register_forward_pre_hook(keep, with_kwargs=True)
    try:
        batch = collate_train([TrainSample("x", (image,), "Where?", "Here.", "perception")], loaded)
        with torch.no_grad():
            loaded.model(**batch.model_inputs())
    finally:
        handle.remove()
    return seen["h"][0][batch.image_mask[0]], batch


@pytest.mark.parametrize("family", FAMILIES)
def test_image_tokens_are_row_major_over_the_adapters_grid(family, tmp_path):
    """Changing the pixels of one grid cell changes exactly that cell's image token."""
    loaded = _local_vision(family)
    side = loaded.image_side
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    ref, batch = _image_features(loaded, Image.fromarray(base))
    (rows, cols), = loaded.adapter.image_token_grids(loaded.model.config, batch.inputs)
    assert rows * cols == ref.shape[0]
    for r, c in [(0, 1), (rows - 1, 0), (1, cols - 1)]:
        changed = base.copy()
        h, w = side // rows, side // cols
        changed[r * h:(r + 1) * h, c * w:(c + 1) * w] = 255 - changed[r * h:(r + 1) * h, c * w:(c + 1) * w]
        moved = (_image_features(loaded, Image.fromarray(changed))[0] - ref).abs().amax(dim=1) > 1e-6
        assert moved.nonzero().flatten().tolist() == [r * cols + c], (family, r, c)


@pytest.mark.parametrize("family", FAMILIES)
def test_captured_blocks_are_the_eager_attention_through_the_adapter(family, tmp_path):
    """capture_text_to_vision's blocks equal eager attention (head mean) at the text rows after the
    first image token and the image columns, for the first and penultimate layers, and its object flags match."""
    from harness.data.collate import collate_train
    from harness.eval.attention_maps import _sample

    eager = load_model({"family": family, "zoo": "teacher_s"}, attn_implementation="eager")
    car = SceneObject(id="c1", cls="car", color="red", camera="CAM_FRONT", lane=0, distance="near", status="stopped")
    place(car, 0.0)
    items = [_item(tmp_path, car), _item(tmp_path, question="Is the road clear ahead of the ego vehicle?",
                                           answer="Yes, it is clear.")]
    maps = capture_text_to_vision(eager, items, batch_size=2)
    batch = collate_train([_sample(item, "") for item in items], eager)
    with torch.no_grad():
        attentions = eager.model(**batch.model_inputs(), output_attentions=True).attentions
    for b, item_maps in enumerate(maps):
        ids = batch.input_ids[b]
        valid = batch.attention_mask[b].bool()
        image = torch.nonzero(batch.image_mask[b]).flatten()
        rows = [p for p in range(len(ids)) if valid[p] and p > int(image.min()) and p not in image.tolist()]
        for name, layer in (("first", 0), ("penultimate", eager.depth - 2)):
            expected = attentions[layer][b].mean(0)[rows][:, image].numpy()
            assert item_maps.blocks[name].shape == (len(rows), len(image))
            np.testing.assert_allclose(item_maps.blocks[name], expected, atol=1e-6)
        assert item_maps.layers == {"first": 0, "penultimate": eager.depth - 2}
    assert maps[0].object_columns.nonzero()[0].tolist() == [13, 14]
    assert maps[1].object_columns is None
    answer_only = capture_text_to_vision(eager, items[:1], rows="answer")[0]
    n_answer = int((batch.labels[0] != -100).sum())
    assert answer_only.blocks["first"].shape == (n_answer, 16)
