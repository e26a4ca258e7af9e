"""Are the tiny teachers visually grounded after SFT? Clean vs text-only, with and without a grounding warm-up.

A tiny-zoo teacher starts from random weights, so plain CE on the long structured
rationale answers spends its few hundred CPU steps on the answer language: the
text prior alone brings the loss down, and the 16 image tokens per image end up
ignored (clean and text-only answers are the same). The image pathway itself works:
a short target that only the image can decide (the answer's ``Environment:``
line: day, dusk or night) is learned in ~150 steps. This script measures both
recipes on the same data with the harness's own ``fine_tune``:

- ``--warm 0``: the recipe's SFT as it is (CE on the full answers);
- ``--mix F``: the SFT data also holds F × (training set size) caption samples, so
  the main SFT keeps supervising the image while it learns the answer language;
- ``--warm N``: first N steps of CE on each training answer's ``Environment:``
  line alone (a one-line caption), then the same SFT. This is the change proposed
  in docs/grounding.md; here it is two ``fine_tune`` calls.

It then prints, for clean vs text_only (black images):
- the rubric judge's mean score on greedy answers to the first ``--items`` eval items
  (paired Wilcoxon signed-rank test, the items' clean minus text-only scores);
- the environment probe on held-out scenes (another seed): which of the three
  ``Environment:`` lines the teacher finds most likely inside the full answer,
  accuracy with real vs black images (exact binomial test on the discordant pairs);
- the SFT time (one thread).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_grounding.py --family internvl3 --warm 150 --steps 200
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness.data  # noqa: E402,F401  (registers the synthetic dataset)
from harness.data.blank import black_image_path  # noqa: E402
from harness.data.collate import collate_train  # noqa: E402
from harness.data.synthetic.questions import ENVIRONMENT  # noqa: E402
from harness.data.types import TrainSample  # noqa: E402
from harness.eval.generate import generate_answers  # noqa: E402
from harness.eval.judges.rubric import RubricJudge  # noqa: E402
from harness.models import load_model  # noqa: E402
from harness.recipe.schema import SFTSpec  # noqa: E402
from harness.registry import DATASETS  # noqa: E402
from harness.train.sft import fine_tune, grounding_samples  # noqa: E402

ENV_PREFIX = "Environment: "


def environment_line(answer: str) -> str | None:
    return next((line for line in answer.split("\n") if line.startswith(ENV_PREFIX)), None)


caption_samples = grounding_samples  # the harness's own warm-up data (harness/train/sft.py)


def answer_logprob(loaded, samples: list[TrainSample]) -> torch.Tensor:
    """Summed log-probability of each sample's answer tokens."""
    with torch.no_grad():
        batch = collate_train(samples, loaded)
        logits = loaded.model(**batch.model_inputs()).logits[:, :-1].float()
        labels = batch.labels[:, 1:]
        mask = labels != -100
        token = torch.gather(torch.log_softmax(logits, -1), 2, labels.clamp_min(0)[..., None])[..., 0]
        return (token * mask).sum(1)


def environment_probe(loaded, held_out: list[TrainSample]) -> tuple[list[bool], list[bool]]:
    """Per sample: is the true Environment line the most likely of the three, with real / black images?"""
    black = str(black_image_path())
    lines = [ENV_PREFIX + text for text in ENVIRONMENT.values()]
    real, blank = [], []
    for s in held_out:
        truth = environment_line(s.answer)
        variants = [s.answer.replace(truth, line) for line in lines]
        for images, out in ((s.images, real), (tuple(black for _ in s.images), blank)):
            cands = [TrainSample(f"{s.id}-{i}", images, s.question, v, s.capability) for i, v in enumerate(variants)]
            out.append(lines[int(answer_logprob(loaded, cands).argmax())] == truth)
    return real, blank


def rubric_scores(loaded, dataset, setting: str, n_items: int, max_new_tokens: int) -> dict[str, float]:
    judge = RubricJudge()
    items = dataset.eval_items(setting)[:n_items]
    generations = generate_answers(loaded, items, max_new_tokens=max_new_tokens)
    return {item.id: judge.score(item, g.prediction).total for item, g in zip(items, generations)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--family", default="internvl3")
    p.add_argument("--size", default="teacher_s")
    p.add_argument("--train", type=int, default=1600, help="synthetic training questions (8 per scene)")
    p.add_argument("--items", type=int, default=160, help="eval items the rubric judge scores per setting")
    p.add_argument("--warm", type=int, default=150, help="grounding warm-up steps on the Environment line (0: none)")
    p.add_argument("--steps", type=int, default=200, help="SFT steps on the full answers")
    p.add_argument("--mix", type=float, default=0.0,
                   help="also keep this share (of the training set's size) of caption samples in the SFT data")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--probe", type=int, default=80, help="held-out training samples for the environment probe")
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)

    data = DATASETS.get("synthetic")(seed=0, train=a.train, eval=max(a.items, 8))
    samples = data.train_samples()
    loaded = load_model({"family": a.family, "zoo": a.size})
    start = time.perf_counter()
    warm_loss = None
    if a.warm:
        captions = caption_samples(samples)
        epochs = math.ceil(a.warm / math.ceil(len(captions) / a.batch_size))
        warm_loss = fine_tune(loaded, captions, SFTSpec(epochs=epochs, lr=a.lr, batch_size=a.batch_size,
                                                        max_steps=a.warm), a.seed, progress=False)
    main = samples
    if a.mix:
        main = samples + random.Random(a.seed).sample(caption_samples(samples), int(a.mix * len(samples)))
    epochs = math.ceil(a.steps / math.ceil(len(main) / a.batch_size))
    loss = fine_tune(loaded, main, SFTSpec(epochs=epochs, lr=a.lr, batch_size=a.batch_size, max_steps=a.steps),
                     a.seed, progress=False)
    sft_s = time.perf_counter() - start
    print(f"{a.family}/{a.size}: {len(samples)} train questions, warm-up {a.warm} steps "
          f"(loss {warm_loss}), SFT {a.steps} steps (caption share {a.mix}) (loss {loss}), {sft_s:.0f} s on {torch.get_num_threads()} thread")

    clean = rubric_scores(loaded, data, "clean", a.items, a.max_new_tokens)
    blank = rubric_scores(loaded, data, "text_only", a.items, a.max_new_tokens)
    diff = [clean[i] - blank[i] for i in clean]
    p_rubric = stats.wilcoxon(diff).pvalue if any(diff) else 1.0
    print(f"rubric judge, {len(diff)} eval items: clean {sum(clean.values()) / len(diff):.2f} vs text_only "
          f"{sum(blank.values()) / len(diff):.2f} (clean better on {sum(d > 0 for d in diff)}, worse on "
          f"{sum(d < 0 for d in diff)}; Wilcoxon p = {p_rubric:.2g})")

    held_out = DATASETS.get("synthetic")(seed=a.seed + 1, train=4 * a.probe, eval=0).train_samples()[::4][:a.probe]
    real, black = environment_probe(loaded, held_out)
    gained = sum(r and not b for r, b in zip(real, black))
    lost = sum(b and not r for r, b in zip(real, black))
    p_env = stats.binomtest(gained, gained + lost).pvalue if gained + lost else 1.0
    print(f"environment probe, {len(real)} held-out answers: clean {sum(real) / len(real):.3f} vs text_only "
          f"{sum(black) / len(black):.3f} (chance 0.333; exact binomial p = {p_env:.2g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
