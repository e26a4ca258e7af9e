"""Object references and MCQ options: parsing inverts formatting (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.data.errors import ItemProblem
from harness.data.objects import cameras_referred, format_object_ref, parse_object_refs
from harness.data.options import answer_letter, format_options, parse_options, yes_no
from harness.data.types import CAMERAS

unit = st.floats(min_value=0, max_value=1, allow_nan=False)


@given(st.integers(1, 99), st.sampled_from(CAMERAS), unit, unit, st.text(alphabet="abc ?,.", max_size=20))
def test_reference_round_trip(n, camera, x, y, filler):
    text = f"What about {format_object_ref(f'c{n}', camera, x, y)}{filler}"
    (ref,) = parse_object_refs(text)
    assert (ref.id, ref.camera) == (f"c{n}", camera)
    assert abs(ref.x - x) <= 5e-5 and abs(ref.y - y) <= 5e-5


def test_cameras_referred_in_canonical_order():
    refs = parse_object_refs("<c1,CAM_BACK,0.1,0.2> and <c2,CAM_FRONT,0.3,0.4> and <c3,CAM_BACK,0.5,0.5>")
    assert cameras_referred(refs) == ["CAM_FRONT", "CAM_BACK"]


@pytest.mark.parametrize("text", ["<c1,CAM_BACK,0.5>", "<c1,CAM_UP,0.5,0.5>", "<c1,CAM_BACK,1.5,0.5>",
                                  "<c1,CAM_BACK,x,0.5>"])
def test_malformed_references_raise(text):
    with pytest.raises(ItemProblem):
        parse_object_refs(f"Is {text} a sign?")


sentence = st.text(alphabet="abcdefghij ,", min_size=1, max_size=30).map(lambda s: s.strip() or "x")


@given(st.lists(sentence, min_size=2, max_size=4))
def test_options_round_trip(texts):
    options = {chr(ord("A") + i): t + "." for i, t in enumerate(texts)}
    question = f"Pick one. Please select the correct answer from the following options: {format_options(options)}"
    assert parse_options(question) == options


def test_capital_letters_inside_options_do_not_split_them():
    q = ("Predict the behavior of the ego vehicle. Please select the correct answer from the following options: "
         "A. The car is at a stop. B. Going to B. C. Turn right. D. Going ahead.")
    assert parse_options(q) == {"A": "The car is at a stop.", "B": "Going to B.", "C": "Turn right.",
                                "D": "Going ahead."}


@pytest.mark.parametrize("answer,letter", [("A", "A"), ("B. Bit error", "B"), ("C, Explanation: x", "C"),
                                           ("(D)", "D"), ("A car is there", None), ("Answer: B", None)])
def test_answer_letter(answer, letter):
    assert answer_letter(answer) == letter


@pytest.mark.parametrize("answer,word", [("No.", "no"), ("Yes, Explanation: x", "yes"), ("Nothing", None)])
def test_yes_no(answer, word):
    assert yes_no(answer) == word
