"""The offline tokenizer: deterministic, lossless on any text, special tokens atomic."""

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.models.tokenizer import build_bpe_tokenizer, offline_hf_tokenizer

SPECIAL = ("<img>", "</img>", "<IMG_CONTEXT>", "<video>")


def test_build_is_deterministic():
    assert build_bpe_tokenizer(SPECIAL).to_str() == build_bpe_tokenizer(SPECIAL).to_str()


def test_vocab_is_small_and_specials_come_first():
    tok = build_bpe_tokenizer(SPECIAL)
    assert 500 <= tok.get_vocab_size() <= 2048
    assert [tok.token_to_id(t) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>")] == [0, 1, 2, 3]


_TOKENIZER = build_bpe_tokenizer(SPECIAL)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_any_text_round_trips(text):
    assert _TOKENIZER.decode(_TOKENIZER.encode(text).ids, skip_special_tokens=False) == text


def test_named_special_tokens_are_single_ids():
    tok = offline_hf_tokenizer({"context_image_token": "<IMG_CONTEXT>", "start_image_token": "<img>"})
    ids = tok("x<img><IMG_CONTEXT><IMG_CONTEXT>", add_special_tokens=False)["input_ids"]
    assert ids[-3:] == [tok.start_image_token_id, tok.context_image_token_id, tok.context_image_token_id]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
