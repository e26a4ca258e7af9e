"""Closed questions scored by option likelihood: which answer does the model find most probable?

Parsing generated text measures whether a model *says* an option in a form the
parser reads; a model that knows the answer but words it oddly, or a small model
whose greedy text wanders, scores 0 there. Ranking asks the model directly: for each
option of a closed item, the log-probability of the whole answer string given the
prompt (teacher forcing, one forward pass per option, batched), and the option with
the highest one is the model's answer. Both are reported (``closed_acc_parsed`` and
``closed_acc_ranked`` in summary.json).

Choices, and why:

- **Sum, not mean, of the answer's token log-probs.** The sum is log P(answer | prompt),
  a probability of the whole string, so options compare as the mutually exclusive
  answers they are; the mean per token is not a probability and favours long options
  whose later tokens are predictable from their first. The sum's length bias is
  small here because a closed item's candidates share their form.
- **Candidates are whole answer strings** in the form the model was trained to give:
  an item's ``option_answers`` (raw item field: MCQ letter → answer, or yes/no →
  answer) when its data supplies them, otherwise ``"X. <option text>"`` for an MCQ
  and ``"Yes."`` / ``"No."`` for a yes/no question. A part all candidates share (a
  lead-in such as ``"Final: {"``) adds the same log-prob to each, so it never changes
  the ranking.
- Ties (equal log-probs) go to the first candidate in option order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from harness.data.collate import IGNORE_INDEX, collate_continuations
from harness.data.types import EvalItem
from harness.devices import model_device
from harness.eval.prompts import build_prompt

CLOSED_KINDS = ("mcq", "yes_no")
YES_NO_ANSWERS = {"yes": "Yes.", "no": "No."}


@dataclass(frozen=True)
class Ranked:
    """One closed item's candidates with their summed log-probabilities, and the most likely one."""

    choice: str  # an option letter (MCQ) or yes / no
    log_probs: dict[str, float]


def candidates(item: EvalItem) -> dict[str, str]:
    """The answer strings ranked for ``item`` (key: the option letter or yes/no); {} for open items."""
    if item.kind not in CLOSED_KINDS:
        return {}
    given = item.raw.get("option_answers") if isinstance(item.raw, dict) else None
    if isinstance(given, dict) and given and all(isinstance(v, str) and v for v in given.values()):
        return {str(k): v for k, v in given.items()}
    if item.kind == "mcq":
        return {letter: f"{letter}. {text}" for letter, text in item.options.items()}
    return dict(YES_NO_ANSWERS)


def sequence_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, the sum of log p(label_t | tokens < t) over the labelled positions (labels not -100).

    Only the labelled positions' logits are normalised (not the whole [rows, length, vocab] block).
    """
    target = labels[:, 1:]
    rows, cols = torch.nonzero(target != IGNORE_INDEX, as_tuple=True)
    picked = torch.log_softmax(logits[:, :-1][rows, cols].float(), dim=-1)
    token = picked.gather(1, target[rows, cols][:, None])[:, 0].double()
    return torch.zeros(labels.shape[0], dtype=torch.float64, device=logits.device).index_add_(0, rows, token)


def _chunks(closed: list, rows: int):
    """Consecutive items whose candidates together make at most ``rows`` rows (at least one item each)."""
    chunk, used = [], 0
    for entry in closed:
        if chunk and used + len(entry[2]) > rows:
            yield chunk
            chunk, used = [], 0
        chunk.append(entry)
        used += len(entry[2])
    if chunk:
        yield chunk


def rank_closed(loaded, items: Sequence[EvalItem], *, brief: str = "", batch_size: int = 8) -> list[Ranked | None]:
    """Each item's most likely candidate (None for open items); a forward pass scores up to
    ``batch_size`` candidates (rows), the items' prompts encoded once each."""
    model = loaded.model
    model.eval()
    device = model_device(model)
    dtype = next(model.parameters()).dtype
    out: list[Ranked | None] = [None] * len(items)
    closed = [(i, item, candidates(item)) for i, item in enumerate(items)]
    closed = [(i, item, c) for i, item, c in closed if c]
    for chunk in _chunks(closed, max(1, batch_size)):
        batch = collate_continuations(
            loaded, [list(item.cameras.values()) for _, item, _ in chunk],
            [build_prompt(item, brief) for _, item, _ in chunk], [list(c.values()) for _, _, c in chunk],
            ids=[item.id for _, item, _ in chunk]).to(device, dtype=dtype)
        with torch.inference_mode():
            logits = model(**batch.model_inputs()).logits
        scores = sequence_log_probs(logits, batch.labels).tolist()
        offset = 0
        for i, _, cands in chunk:
            keys = list(cands)
            values = scores[offset:offset + len(keys)]
            offset += len(keys)
            best = max(range(len(keys)), key=lambda k: (values[k], -k))
            out[i] = Ranked(choice=keys[best], log_probs={k: float(v) for k, v in zip(keys, values)})
    return out
