"""The synthetic closed questions need the image: balanced answers, a text-only predictor at
chance, and answers the trained format commits to and the parsers read."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from harness.data import conversations, drivebench
from harness.data.errors import DataError
from harness.data.options import answer_letter, parse_options, yes_no
from harness.data.synthetic.baselines import CLOSED, TextPrior, accuracy_by_template, answer_key, oracle_key
from harness.data.synthetic.questions import COLOUR_OPTION, DRIVEBENCH_TEMPLATES, TEMPLATES, rationale_answer
from harness.data.synthetic.scene import VEHICLE_COLORS, VEHICLES, Scene
from harness.data.synthetic.writer import Decks, SynthConfig, _eval_item, build_scene, generate
from harness.eval.scoring import parse_mcq, parse_yes_no

ALL = tuple(TEMPLATES)
CHANCE = {"moving_status": 0.25, "ego_behavior": 0.25, "object_colour": 0.25, "sign_or_barrier": 0.5}


def _split(config: SynthConfig, split: str, scenes: int) -> tuple[list[dict], list]:
    """Eval-format items and their questions of ``scenes`` scenes, as the writer draws them (no images)."""
    decks = Decks.of(config, split)
    items, questions = [], []
    for index in range(scenes):
        scene, qs = build_scene(config, split, index, decks)
        items += [_eval_item(config, index, scene, q, {c: f"{c}.png" for c in scene.cameras}) for q in qs]
        questions += qs
    return items, questions


@pytest.fixture(scope="module")
def splits():
    config = SynthConfig(seed=5, templates=ALL)
    return _split(config, "train", 500), _split(config, "eval", 200)


def test_object_colour_asks_about_every_vehicle_and_its_answer_is_its_colour(splits):
    (items, _), _ = splits
    colour = [it for it in items if it["template"] == "object_colour"]
    assert len({it["id"] for it in items}) == len(items)  # one id per question, several colour questions per scene
    frames = Counter(it["frame_token"] for it in colour)
    assert max(frames.values()) >= 2
    for it in colour:
        scene = Scene.from_json(it["scene"])
        obj = scene.object(it["facts"]["object"])
        options = parse_options(it["question"])
        assert obj.cls in VEHICLES and len(options) == 4
        assert options[answer_letter(it["answer"])] == COLOUR_OPTION[obj.color]
        assert oracle_key(it) == answer_key("object_colour", it["answer"])
        assert it["option_answers"] == options  # what the model is trained to emit per option: the text alone
    for frame in frames:  # every vehicle of the frame is asked about once
        scene = Scene.from_json(next(it for it in colour if it["frame_token"] == frame)["scene"])
        asked = [it["facts"]["object"] for it in colour if it["frame_token"] == frame]
        assert sorted(asked) == sorted(o.id for o in scene.objects if o.cls in VEHICLES)


def test_colour_answers_and_letters_are_balanced_to_within_one_per_split(splits):
    (items, _), _ = splits
    colour = [it for it in items if it["template"] == "object_colour"]
    colours = Counter(it["facts"]["color"] for it in colour)
    letters = Counter(answer_letter(it["answer"]) for it in colour)
    assert set(colours) == set(VEHICLE_COLORS) and max(colours.values()) - min(colours.values()) <= 1
    assert set(letters) == set("ABCD") and max(letters.values()) - min(letters.values()) <= 1


def test_a_text_only_majority_per_template_is_at_chance(splits):
    """Fit on the train split, scored on the eval split: neither the majority letter (yes/no)
    nor the majority option text of a template beats chance by more than three standard errors."""
    (train, _), (items, _) = splits
    majority = {t: Counter(answer_key(t, it["answer"]) for it in train if it["template"] == t).most_common(1)[0][0]
                for t in CLOSED}
    prior = TextPrior().fit((it["template"], it["question"], it["answer"]) for it in train)
    counts = Counter(it["template"] for it in items)
    for predict in (lambda it: majority.get(it["template"], ""), lambda it: prior.predict(it["template"], it["question"])):
        accuracy = accuracy_by_template(items, predict)
        for t in CLOSED:
            se = math.sqrt(CHANCE[t] * (1 - CHANCE[t]) / counts[t])
            assert accuracy[t] <= CHANCE[t] + 3 * se, (t, accuracy[t], counts[t])


def test_the_trained_answer_of_every_closed_question_is_read_as_its_reference(splits):
    """What a model is trained to emit is what the strict parsers read back: the option letter (the
    colour question through its option's text) and yes/no, never 'no answer'."""
    _, (items, questions) = splits
    seen = set()
    for it, q in zip(items, questions):
        target = rationale_answer(q)
        if it["template"] == "sign_or_barrier":
            assert parse_yes_no(target) == yes_no(it["answer"]) is not None, target
        elif it["template"] in CLOSED:
            letter = answer_letter(it["answer"])
            assert letter is not None and parse_mcq(target, "strict", parse_options(it["question"])) == letter, target
        seen.add(it["template"])
    assert set(CLOSED) <= seen


def test_a_colour_benchmark_loads_as_perception_mcqs_with_one_word_training_answers(tmp_path):
    root = tmp_path / "colour"
    manifest = generate(root, SynthConfig(seed=2, train=40, eval=40, image_size=32, corruptions=(),
                                          templates=("object_colour",)))
    assert manifest["templates"] == ["object_colour"] and manifest["counts"]["eval"] == 40
    items = drivebench.load(root / "drivebench-clean.json")
    assert {(i.kind, i.capability) for i in items} == {("mcq", "perception")}
    samples = conversations.load(root / "train.json")
    assert all(s.answer in COLOUR_OPTION.values() and s.capability == "perception" for s in samples)
    assert json.loads((root / "manifest.json").read_text())["digest"] != SynthConfig(
        seed=2, train=40, eval=40, image_size=32, corruptions=()).digest()


def test_the_default_question_set_keeps_the_digests_of_benchmarks_built_before_the_option():
    assert SynthConfig().templates == DRIVEBENCH_TEMPLATES
    assert SynthConfig().digest() == "098a5d60b8fa"  # as built before `templates` existed
    assert SynthConfig(seed=0, train=128, eval=160, corruptions=("fog", "low_light")).digest() == "651a36271534"


@pytest.mark.parametrize("templates,phrase", [(("object_color",), "object_color"), ((), "none given")])
def test_unknown_or_no_templates_are_one_line_errors(tmp_path, templates, phrase):
    with pytest.raises(DataError, match=phrase):
        generate(tmp_path / "x", SynthConfig(train=8, eval=8, corruptions=(), templates=templates))
