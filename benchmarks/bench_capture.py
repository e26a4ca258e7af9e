"""Attention capture (sdpa + recompute of chosen layers) vs eager attention with every map.

The plain way to read attention maps is ``attn_implementation="eager"`` plus
``output_attentions=True``: every layer runs the slow path and returns its
B×H×S×S probabilities. The harness runs sdpa and recomputes only the requested
layers. This script times both in one run (interleaved rounds, median ratio with min–max; forward-only as for a
teacher and forward+backward as for a student) on a deeper-than-zoo model built
with the real family code and random weights, checks the maps agree, and prints
the bytes of attention probabilities each path materialises.

Run: .venv/bin/python benchmarks/bench_capture.py [--family internvl3] [--layers 16] [--images 6]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.data.collate import collate_train  # noqa: E402
from harness.data.types import TrainSample  # noqa: E402
from harness.models.base import ModelSource, Scale  # noqa: E402
from harness.registry import FAMILIES  # noqa: E402
from harness.signals.capture import AttentionCapture  # noqa: E402
from timing import interleave, median_of, ratio_stats  # noqa: E402  (benchmarks/timing.py)


def build(family: str, layers: int, hidden: int, heads: int, attn: str):
    base = FAMILIES.get(family)
    student = base.zoo_scales["student"]
    text = dict(student.text, num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                num_key_value_heads=max(1, heads // 2), intermediate_size=hidden * 2)
    if "mrope_section" in text["rope_parameters"]:  # 3D rotary sections must cover head_dim / 2
        half = hidden // heads // 2
        first = half // 4
        text["rope_parameters"] = dict(text["rope_parameters"], mrope_section=[first, (half - first) // 2,
                                                                               half - first - (half - first) // 2])

    class Bench(base):
        scales = {"bench": Scale("none/bench", text, student.vision, {})}

    return Bench().load(ModelSource(family=family, scale="bench", init="random"), attn_implementation=attn)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="qwen2_5_vl", choices=["internvl3", "qwen2_5_vl"])
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10, help="at least this many interleaved timings of each")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    fast = build(args.family, args.layers, args.hidden, args.heads, "sdpa")
    eager = build(args.family, args.layers, args.hidden, args.heads, "eager")
    eager.model.load_state_dict(fast.model.state_dict())
    rng = np.random.default_rng(0)
    tmp = Path("/tmp") / "bench_capture_images"
    tmp.mkdir(exist_ok=True)
    paths = []
    for i in range(args.images):
        path = tmp / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    question = "What are the important objects in the current scene and what should the ego vehicle do? " * 3
    samples = [TrainSample(f"b{i}", tuple(paths), question, "Keep going at the same speed.", "planning")
               for i in range(args.batch)]
    batch = collate_train(samples, fast)
    wanted = [0, fast.depth - 2]
    seq = batch.input_ids.shape[1]

    def capture_forward():
        with torch.no_grad(), AttentionCapture(fast, wanted, grad=False) as cap:
            fast.model(**batch.model_inputs())
        return cap.maps

    def eager_forward():
        with torch.no_grad():
            out = eager.model(**batch.model_inputs(), output_attentions=True)
        return {i: out.attentions[i].mean(1) for i in wanted}

    def capture_train_step():
        with AttentionCapture(fast, wanted, grad=True) as cap:
            out = fast.model(**batch.model_inputs(with_labels=True))
        (out.loss + sum(m.pow(2).mean() for m in cap.maps.values())).backward()
        fast.model.zero_grad(set_to_none=True)

    def eager_train_step():
        out = eager.model(**batch.model_inputs(with_labels=True), output_attentions=True)
        (out.loss + sum(out.attentions[i].mean(1).pow(2).mean() for i in wanted)).backward()
        eager.model.zero_grad(set_to_none=True)

    a, b = capture_forward(), eager_forward()
    max_diff = max((a[i] - b[i]).abs().max().item() for i in wanted)
    heads = fast.model.config.text_config.num_attention_heads
    bytes_per_map = args.batch * heads * seq * seq * 4
    rows = []
    for label, fast_fn, slow_fn in (("forward (teacher)", capture_forward, eager_forward),
                                    ("forward+backward (student)", capture_train_step, eager_train_step)):
        timed = interleave({"eager": slow_fn, "capture": fast_fn}, min_rounds=args.rounds,
                           max_rounds=max(args.rounds, 30))
        rows.append((label, median_of(timed["eager"], "seconds"), median_of(timed["capture"], "seconds"),
                     ratio_stats(timed["eager"], timed["capture"])))

    print(f"{args.family}: {fast.depth} layers, hidden {args.hidden}, {heads} heads, batch {args.batch}, "
          f"sequence {seq}, captured layers {wanted}, threads {args.threads}")
    print(f"max |capture - eager| over captured maps: {max_diff:.2e}")
    print(f"attention probabilities materialised: eager {fast.depth * bytes_per_map / 2**20:.1f} MiB "
          f"(all {fast.depth} layers), capture {len(wanted) * bytes_per_map / 2**20:.1f} MiB ({len(wanted)} layers)")
    print(f"{'pass':<28}{'eager s':>10}{'capture s':>11}{'speed-up (median, min-max, rounds)':>38}")
    for label, t_slow, t_fast, r in rows:
        print(f"{label:<28}{t_slow:>10.3f}{t_fast:>11.3f}   {r['median']:6.2f}x ({r['min']:.2f}-{r['max']:.2f}, {r['n']})")


if __name__ == "__main__":
    main()
