"""An offline byte-level BPE tokenizer for the tiny zoo, built without any download.

Real InternVL3 and Qwen2.5-VL checkpoints share Qwen2's byte-level BPE; the tiny
zoo needs something with the same properties (every string encodes, chat-control
and image tokens are single special tokens) but small enough that embedding
tables stay tiny. It is trained deterministically with the ``tokenizers`` library
on a small embedded corpus of driving-QA vocabulary; byte fallback via the
byte-level alphabet guarantees any text round-trips.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# Shared by both families: end of text and the chat turn markers of the Qwen
# chat format both real families use.
COMMON_SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

VOCAB_SIZE = 1024

# Driving-QA vocabulary: the words DriveBench-style questions and answers use, so
# the learned merges make typical prompts short (which keeps tiny models fast).
_CORPUS = """
You are a driving assistant. Answer the question about the driving scene.
What are the important objects in the current scene? Those objects will be considered for the
future reasoning and driving decision. What is the moving status of object <c1,CAM_FRONT,0.5,0.5>?
Please select the correct answer from the following options: A. Going ahead. B. Turn left.
C. Turn right. D. Stopped. E. Back up. The ego vehicle is going straight, steering slightly to
the left, driving fast, driving slowly, not moving. Predict the behavior of the ego vehicle.
What actions could the ego vehicle take based on the observation? Is it necessary for the ego
vehicle to take this object into account? Would the object be in the moving direction of the
ego vehicle? Yes. No. What is the probability of colliding with the car after the ego vehicle
changes lane? High, low, medium. Based on the observations, what object should be noticed first,
second and third? Please describe the state and the recommended action for each object.
There is a pedestrian crossing the road in front of the ego car, a white sedan to the back left,
a black truck to the front right, a traffic light that is red, green or yellow, a stop sign, a
cyclist on the bike lane, barriers, traffic cones, a bus at the station, parked cars, a
motorcycle, a construction vehicle, a trailer. The camera views are CAM_FRONT, CAM_FRONT_LEFT,
CAM_FRONT_RIGHT, CAM_BACK, CAM_BACK_LEFT and CAM_BACK_RIGHT. Keep going at the same speed,
decelerate gradually without braking, brake suddenly, accelerate, turn left, turn right,
change lane to the left, change lane to the right, keep the lane, yield, wait. The weather is
sunny, rainy, foggy, snowy; it is day or night; the road is wet or dry; the scene is an
intersection, a highway, a parking lot, an urban street, a roundabout.
Perception, prediction, planning, behavior. The answer is A, B, C or D because the object is
moving towards the ego vehicle, away from the ego vehicle, stationary, far, near, close.
0 1 2 3 4 5 6 7 8 9 10 0.1 0.25 0.5 0.75 meters seconds km/h, speed, distance.
"""


def _corpus_lines() -> list[str]:
    lines = [line.strip() for line in _CORPUS.strip().splitlines() if line.strip()]
    # Repeat so frequent words win merges over incidental pairs; order is fixed,
    # so training is deterministic.
    return lines * 4


def build_bpe_tokenizer(extra_special: tuple[str, ...]) -> Tokenizer:
    """A deterministic byte-level BPE with ``COMMON_SPECIAL + extra_special`` as added tokens.

    Special tokens come first (ids 0..n-1) so their ids are fixed by their order,
    independent of the learned merges.
    """
    special = list(COMMON_SPECIAL) + [t for t in extra_special if t not in COMMON_SPECIAL]
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus_lines(), trainer=trainer)
    return tok


def offline_hf_tokenizer(named_special: dict[str, str], *, chat_template: str | None = None):
    """A transformers tokenizer around :func:`build_bpe_tokenizer`.

    ``named_special`` maps attribute names to tokens (e.g. ``context_image_token:
    <IMG_CONTEXT>``); transformers exposes each as ``tok.<name>`` and
    ``tok.<name>_id``, which is how the family processors find their image tokens.
    ``<|im_end|>`` ends a turn (eos) and ``<|endoftext|>`` pads, as in Qwen2.
    """
    from transformers import PreTrainedTokenizerFast

    bpe = build_bpe_tokenizer(tuple(named_special.values()))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=dict(named_special),
        model_max_length=4096,
    )
    if chat_template is not None:
        tok.chat_template = chat_template
    return tok
