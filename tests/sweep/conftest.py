"""Shared set-up for sweep tests: ablation files written into a tmp dir, on the tiny zoo."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY_SFT = REPO / "recipes" / "tiny" / "sft_internvl.yaml"

# CE only (no teacher): the fastest real run there is; two optimizer steps.
CE_ABLATION = """\
name: {name}
base: {base}
overrides:
  data.train: {{name: synthetic, seed: 0, train: 8, eval: 4}}
  train: {{max_steps: {steps}, epochs: {epochs}, batch_size: 4, grad_accum: 1, checkpoint_every: 1}}
  eval: {{enabled: false}}
variants:
  lr_high: {{train: {{lr: 2.0e-3}}}}
space:
  train.lr: {lrs}
seeds: {seeds}
objective: {{metric: final_losses.ce, direction: minimize}}
retry: {{heartbeat_interval: 1, grace_period: 4, max_retry: 2}}
table: {{kind: table3, rows: variant, baseline: lr_high}}
"""


@pytest.fixture
def write_ablation(tmp_path):
    def make(name="study", lrs="[1.0e-4, 5.0e-4]", seeds="[0]", steps=2, extra="", text=None, epochs=1):
        path = tmp_path / f"{name}.yaml"
        body = text if text is not None else CE_ABLATION.format(name=name, base=TINY_SFT, lrs=lrs, seeds=seeds,
                                                                 steps=steps, epochs=epochs)
        path.write_text(body + extra)
        return path

    return make
