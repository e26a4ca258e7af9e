"""Shared set-up for run tests: a private cache and a tiny recipe on the tiny zoo."""

import pytest

TINY = """\
name: {name}
seed: 0
student: {{family: internvl3, zoo: student}}
teachers:
  teacher: {{family: internvl3, zoo: teacher_s, sft: {{max_steps: 2, lr: 2.0e-3, batch_size: 4}}}}
data:
  train: {{name: synthetic, seed: 0, train: 12, eval: 4}}
objectives:
  ce: {{weight: 1.0}}
  perception:
    teacher: teacher
    signal: {{attention: text_to_vision, layers: first}}
    loss: mse
    weight: 1000.0
  reasoning:
    teacher: teacher
    signal: {{attention: full, layers: {{start: 0, end: -2}}, matching: group}}
    loss: mse
    weight: 1000.0
  planning:
    teacher: teacher
    signal: {{attention: text_to_vision, layers: penultimate}}
    loss: mse
    weight: 1000.0
combiner: {{name: agp}}
cache: {{mode: {cache}}}
train: {{lr: 1.0e-3, batch_size: 2, grad_accum: 2, max_steps: {steps}, checkpoint_every: 1}}
"""


@pytest.fixture
def tiny_recipe(env):
    def make(name="tiny", cache="disk", steps=4, extra=""):
        path = env / f"{name}.yaml"
        path.write_text(TINY.format(name=name, cache=cache, steps=steps) + extra)
        return path

    return make
