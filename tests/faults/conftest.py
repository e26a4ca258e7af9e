"""Shared set-up for fault tests: a private cache, a tiny CE-only recipe, a small DriveBench folder."""

import json
from pathlib import Path

import pytest
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"  # real DriveBench items (CC-BY-4.0)
CAMERAS = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")

# CE only on the tiny zoo student: the fastest real run there is.
CE_RECIPE = """\
name: {name}
seed: 0
student: {{family: internvl3, zoo: student}}
data:
  train: {train}
  eval: {eval}
objectives:
  ce: {{weight: 1.0}}
combiner: {{name: sum}}
train: {{lr: 1.0e-3, batch_size: 4, grad_accum: 1, max_steps: {steps}, epochs: {epochs}, checkpoint_every: {every}}}
eval: {{enabled: {evaluate}, max_items: 4}}
"""


@pytest.fixture
def ce_recipe(env):
    def make(name="faults", steps=2, every=1, train=None, evaluate="false", eval_data="null"):
        epochs = max(1, steps)  # 8 samples in batches of 4: two steps an epoch, so max_steps decides
        path = env / f"{name}.yaml"
        train = train or "{name: synthetic, seed: 0, train: 8, eval: 4}"
        path.write_text(CE_RECIPE.format(name=name, steps=steps, epochs=epochs, every=every, train=train, eval=eval_data,
                                         evaluate=evaluate))
        return path

    return make


@pytest.fixture
def drivebench_folder(env):
    """A data root with one image and the real fixture items pointed at it: (root, items)."""
    root = env / "data"
    root.mkdir()
    Image.new("RGB", (32, 32), (90, 90, 90)).save(root / "img.png")
    items = json.loads((FIXTURES / "drivebench-clean-sample.json").read_text())
    for item in items:
        item["image_path"] = {camera: "img.png" for camera in CAMERAS}
    return root, items


def write_items(root: Path, name: str, items) -> Path:
    path = root / name
    path.write_text(json.dumps(items))
    return path
