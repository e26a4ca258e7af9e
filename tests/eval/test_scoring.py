"""The MCQ and yes/no parsers, pinned on a table of tricky predictions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.eval.scoring import parse_mcq, parse_official, parse_strict, parse_yes_no

MOVING = {"A": "Going ahead.", "B": "Turn left.", "C": "Turn right.", "D": "Stopped."}
BEHAVIOUR = {
    "A": "The ego vehicle is going straight. The ego vehicle is driving fast.",
    "B": "The ego vehicle is slightly steering to the left. The ego vehicle is driving slowly.",
    "C": "The ego vehicle is going straight. The ego vehicle is driving very fast.",
    "D": "The ego vehicle is steering to the left. The ego vehicle is driving slowly.",
}
NESTED = {"A": "Turn left.", "B": "Turn left slowly.", "C": "Stop."}

# (prediction, options, official reading, strict reading)
MCQ_TABLE = [
    ("B", MOVING, "B", "B"),
    ("B.", MOVING, "B", "B"),
    ("(C) Turn right.", MOVING, "C", "C"),
    ("D: the car has its brake lights on.", MOVING, "D", "D"),
    ("C, Explanation: the truck turns right.", MOVING, "C", "C"),
    ("A car ahead is turning, so the answer is C.", MOVING, "A", "C"),  # official reads the article
    ("The answer is B.", MOVING, "B", "B"),
    ("Answer: D", MOVING, "D", "D"),
    ("answer is (b)", MOVING, "B", "B"),  # a bracketed lower-case letter commits
    ("c) Turn right", MOVING, "C", "C"),
    ("(b)", MOVING, "B", "B"),
    ("b. Turn left.", MOVING, "B", "B"),
    ("a car turns right, so the answer is c.", MOVING, "A", "C"),  # the article is not A, "is c." commits
    ("the answer is a car", MOVING, "A", None),
    ("I choose option C because it turns.", MOVING, "C", "C"),
    ("Option B or option C, hard to say.", MOVING, "B", None),  # two letters by one rule
    ("The object is going ahead.", MOVING, None, "A"),  # text of exactly one option
    ("It could turn left or turn right.", MOVING, None, None),  # text of two options
    ("It is a sedan that is stopped.", MOVING, "A", "D"),
    ("", MOVING, None, None),
    ("   \n", MOVING, None, None),
    ("**B**. Turn left.", MOVING, "B", "B"),
    ("E", MOVING, None, None),  # not an option here
    ("A\nThe car keeps its lane.", MOVING, "A", "A"),
    ("Because of the d-pad… no idea", MOVING, "D", None),  # "d" is a whole word for the official regex
    ("The ego vehicle is going straight. The ego vehicle is driving very fast.", BEHAVIOUR, None, "C"),
    ("The ego vehicle is steering to the left. The ego vehicle is driving slowly.", BEHAVIOUR, None, "D"),
    ("Turn left slowly.", NESTED, None, "B"),  # a contained option yields to its container
    ("Turn left.", NESTED, None, "A"),
    ("C. Stop. Not B.", NESTED, "B", "C"),  # official checks B before C
    ("My answer is C and option C it is.", NESTED, "C", "C"),
    ("a", MOVING, "A", "A"),  # a lone letter is an answer, not an article
    ("Based on the image, B is the most likely.", MOVING, "B", None),
    ("Final: {C. Turn right.}\nObject: a red car\nEnvironment: daytime", MOVING, "A", "C"),  # Drive-KD's format
]


@pytest.mark.parametrize("prediction,options,official,strict", MCQ_TABLE)
def test_mcq_parsers_on_tricky_predictions(prediction, options, official, strict):
    assert parse_mcq(prediction, "official") == official
    assert parse_mcq(prediction, "strict", options) == strict


def test_the_tables_are_big_enough_and_the_parsers_disagree_somewhere():
    assert len(MCQ_TABLE) >= 25 and len(YES_NO_TABLE) >= 25
    assert sum(o != s for _, _, o, s in MCQ_TABLE) >= 8


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="official, strict"):
        parse_mcq("A", "lenient")


YES_NO_TABLE = [
    ("Yes.", "yes"),
    ("No, it is a car.", "no"),
    ("no", "no"),
    ("YES, it is a road barrier.", "yes"),
    ("The answer is no.", "no"),
    ("It is not a traffic sign, so no.", "no"),
    ("Yes and no.", "yes"),  # starts with a commitment
    ("Maybe yes, maybe no.", None),
    ("It is a traffic sign.", None),
    ("Nobody knows.", None),  # "no" must be a whole word
    ("", None),
    ("**No**", "no"),
    ("No.", "no"),
    ("Yes, Explanation: it is a road barrier.", "yes"),
    ("yes it is", "yes"),
    ("  no - the object is a truck", "no"),
    ("Answer: yes", "yes"),
    ("I would say the answer is yes, it is a barrier.", "yes"),
    ("There is no sign here.", "no"),  # only "no" occurs: read as a commitment
    ("Not a traffic sign.", None),
    ("Yesterday the sign was here.", None),  # "yes" must be a whole word
    ("Is it a barrier? Yes.", "yes"),
    ("Yes? No? Hard to tell.", "yes"),  # starts with a commitment
    ("The object could be a sign (yes) or not (no).", None),
    ("NO", "no"),
    ("Final: {Yes.}\nObject: sign\nContextual evidence: no motion streaks", "yes"),  # Drive-KD's format
]


@pytest.mark.parametrize("prediction,expected", YES_NO_TABLE)
def test_yes_no_parser(prediction, expected):
    assert parse_yes_no(prediction) == expected


letters = st.sampled_from(list(MOVING))


@given(letters, st.sampled_from(["", ".", ")", ":", ",", " -"]), st.text(alphabet="xyz ", max_size=20))
def test_strict_reads_a_leading_letter_whatever_follows(letter, punct, tail):
    text = f"{letter}{punct}\n{tail}" if not punct else f"{letter}{punct} {tail}"
    assert parse_strict(text, MOVING) == letter


@given(st.text(alphabet="efghijklmnopqrstuvwxyz .,", max_size=60))
def test_official_finds_nothing_without_a_b_c_d_words(text):
    assert parse_official(text) is None


@given(letters)
def test_strict_reads_the_option_text_alone(letter):
    assert parse_strict(f"I think: {MOVING[letter].lower()}", MOVING) == letter


def _released_mcq(answer: str) -> str | None:
    """DriveBench's released extractor as its source reads (evaluate/utils.py), re-derived."""
    answer = answer.strip().lower()
    for choice, pattern in (("A", r"\b(a|option a)\b"), ("B", r"\b(b|option b)\b"),
                            ("C", r"\b(c|option c)\b"), ("D", r"\b(d|option d)\b")):
        if __import__("re").search(pattern, answer):
            return choice
    return None  # the released helper returns "", which no answer letter equals


def _released_yes_no(answer: str) -> str | None:
    import re

    answer = answer.strip().lower()
    if re.search(r"\byes\b", answer):
        return "yes"
    return "no" if re.search(r"\bno\b", answer) else None


UNICODE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
TRICKY = st.text(alphabet=list("aAbBcCdD İıKſ\u0307\u212a.()ÀÉ-_yesnoYESNO"), max_size=30)


@given(st.one_of(UNICODE, TRICKY))
def test_official_mcq_matches_the_released_extractor_on_any_unicode(text):
    assert parse_official(text) == _released_mcq(text)


@given(st.one_of(UNICODE, TRICKY))
def test_official_yes_no_matches_the_released_helper_on_any_unicode(text):
    assert parse_yes_no(text, mode="official") == _released_yes_no(text)


def test_official_lower_cases_before_it_searches():
    # "İ" lower-cases to "i" + a combining dot (not a word character): a boundary appears before "a"
    assert parse_official("İa") == "A" and parse_official("İa".casefold()) == "A"
    assert parse_yes_no("No, yes.", mode="official") == "yes"  # it checks yes first
    assert parse_yes_no("It might be yes, or no.") is None  # strict: both words, no commitment
    with pytest.raises(ValueError):
        parse_yes_no("yes", mode="lenient")
