"""DriveBench question templates for a synthetic scene, with rule-based answers.

Each scene yields one question per template, covering all four DriveBench tasks
and tags 0-3:

==================  ===========  ===  ======  ======================================
template            task         tag  kind    answer derived from
==================  ===========  ===  ======  ======================================
important_objects   perception   2    open    every object: description, side, ref
moving_status       perception   0    mcq     the vehicle's lamps/streaks (4 options)
sign_or_barrier     prediction   0    yes_no  the referenced object's class
notice_order        prediction   3    open    rules.priority (urgency, distance)
plan_action         planning     1    open    rules.advice for the referenced object
plan_collision      planning     1    open    the referenced object's lane
plan_safe           planning     1    open    rules.safe_actions for the scene
ego_behavior        behavior     0    mcq     road bend + lane-dash length (4 options)
object_colour       perception   0    mcq     the referenced vehicle's body colour (4 options)
==================  ===========  ===  ======  ======================================

The first eight are DriveBench's templates and the default set. ``object_colour`` is an
opt-in referential question (synthetic option ``templates``): one per vehicle of the scene,
so a few scenes give many closed items, and only the referred object's pixels decide it,
which makes it the probe for whether a model looks where the question points. Its
training answer is the option's text alone (``Blue.``): a one-word target, read by the
strict parser through the option text, without a rationale whose other colour words
(``blue sky``) would make the reading ambiguous.

MCQ options are shuffled and their sets are drawn independently of the answer, and
every answer (status, ego behaviour, colour) is drawn uniformly, so the question text
alone carries no hint: a text-only predictor is at chance (tests/data/test_synthetic.py). Every question also keeps the facts its
answer came from (``facts``) and the pieces of a structured rationale for the
training split (``rationale``: object, position, environment, evidence).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from harness.data.objects import format_object_ref
from harness.data.options import format_options
from harness.data.synthetic import rules
from harness.data.synthetic.scene import (SPEEDS, STEERING, STATIC_ROAD, VEHICLE_COLORS, VEHICLE_STATUS, VEHICLES,
                                          Scene, SceneObject)

OPTIONS_PROMPT = "Please select the correct answer from the following options:"
STATUS_OPTION = {"going_ahead": "Going ahead.", "turn_left": "Turn left.", "turn_right": "Turn right.",
                 "stopped": "Stopped."}
STEER_TEXT = {
    "straight": "The ego vehicle is going straight.",
    "slight_left": "The ego vehicle is slightly steering to the left.",
    "left": "The ego vehicle is steering to the left.",
    "slight_right": "The ego vehicle is slightly steering to the right.",
    "right": "The ego vehicle is steering to the right.",
}
SPEED_TEXT = {
    "not_moving": "The ego vehicle is not moving.",
    "slow": "The ego vehicle is driving slowly.",
    "normal": "The ego vehicle is driving with normal speed.",
    "fast": "The ego vehicle is driving fast.",
    "very_fast": "The ego vehicle is driving very fast.",
}
ENVIRONMENT = {
    "day": "daytime under a blue sky, dry road, lane markings clearly visible",
    "dusk": "dusk under an orange sky, dry road, lane markings visible",
    "night": "night under a dark sky, lane markings visible",
}
STATUS_EVIDENCE = {  # verb phrases: "the red car <evidence>"
    "going_ahead": "has motion streaks trailing below it and its brake lights off",
    "turn_left": "has its left indicator lit and its roof leaning to the left",
    "turn_right": "has its right indicator lit and its roof leaning to the right",
    "stopped": "has its brake lights on and no motion streaks",
    "walking": "is walking with its legs apart",
    "standing": "is standing with its legs together",
    "static": "does not move",
    "red": "shows its top lamp lit red",
    "yellow": "shows its middle lamp lit yellow",
    "green": "shows its bottom lamp lit green",
}
CLASS_EVIDENCE = {
    "car": "a low box with a rear window, wheels and tail lights",
    "truck": "a tall cargo box with a bumper and wheels",
    "pedestrian": "a person with a head, a shirt and legs",
    "sign": "a sign plate on a thin pole at the roadside",
    "barrier": "an orange and white striped bar on short legs",
    "traffic_light": "a dark box with three lamps on a pole",
}
BEND_WORDS = {"straight": "runs straight ahead", "slight_left": "bends slightly to the left",
              "left": "bends strongly to the left", "slight_right": "bends slightly to the right",
              "right": "bends strongly to the right"}
DASH_WORDS = {"not_moving": "short dots", "slow": "short dashes", "normal": "medium dashes",
              "fast": "long dashes", "very_fast": "almost continuous lines"}
ORDINALS = ("Firstly", "Secondly", "Thirdly")


@dataclass
class Question:
    """One generated question with its DriveBench-style answer and the facts behind it."""

    template: str
    question_type: str
    tag: int
    question: str
    answer: str
    facts: dict
    rationale: dict = field(default_factory=dict)
    target: str | None = None  # the object id the question refers to, if any
    final: str = ""  # the bare final answer of the training rationale (default: the answer)
    bare: bool = False  # train on ``final`` alone, without the structured rationale
    # what the model is trained to emit for each option, when that is not "X. <option text>"
    # (the option-likelihood scorer ranks these strings)
    option_answers: dict[str, str] | None = None

    @property
    def key(self) -> str:
        """The question's name within its scene (templates asked once per object add the object)."""
        return f"{self.template}:{self.target}" if self.template in PER_OBJECT else self.template


def ref(o: SceneObject) -> str:
    return format_object_ref(o.id, o.camera, o.x, o.y)


def article(text: str) -> str:
    return ("an " if text[0] in "aeiou" else "a ") + text


def join(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b, and c`` (DriveBench's list style)."""
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + ", and " + parts[-1]


def _object_facts(o: SceneObject) -> dict:
    return {"object": o.id, "class": o.cls, "description": o.description, "camera": o.camera,
            "position": rules.position(o), "lane": rules.LANE_WORDS[o.lane], "distance": o.distance,
            "state": rules.state(o), "ref": ref(o)}


def _where(o: SceneObject) -> str:
    return f"{rules.position(o)} of the ego vehicle, {rules.LANE_WORDS[o.lane]}, {o.distance} range"


class Deck:
    """Draws from ``values`` in shuffled rounds: every value once per round, so any prefix of
    the draws is balanced to within one (what a split's answers need to leave a text-only
    predictor at chance, not merely near it by luck of the seed)."""

    def __init__(self, values, rng: random.Random):
        self.values, self.rng, self.pending = list(values), rng, []

    def draw(self):
        if not self.pending:
            self.pending = self.rng.sample(self.values, len(self.values))
        return self.pending.pop()


def _mcq(rng: random.Random, correct: str, distractors: list[str], k: int,
         letters: Deck | None = None) -> tuple[dict[str, str], str]:
    """``k`` shuffled options holding ``correct`` (at the position ``letters`` deals, when
    given); returns (letter → text, correct letter)."""
    texts = [correct] + rng.sample(distractors, k - 1)
    rng.shuffle(texts)
    if letters is not None:
        texts.remove(correct)
        texts.insert(letters.draw(), correct)
    options = {chr(ord("A") + i): t for i, t in enumerate(texts)}
    letter = next(letter for letter, t in options.items() if t == correct)
    return options, letter


def important_objects(scene: Scene, rng: random.Random) -> Question:
    objs = sorted(scene.objects, key=lambda o: int(o.id[1:]))
    listed = [f"{article(o.description)} to the {rules.position(o)} of the ego vehicle" for o in objs]
    answer = (f"There is {join(listed)}. The IDs of these objects are {join([ref(o) for o in objs])}.")
    return Question(
        "important_objects", "perception", 2,
        "What are the important objects in the current scene? Those objects will be considered for the "
        "future reasoning and driving decision.",
        answer, {"objects": [_object_facts(o) for o in objs]},
        {"object": "; ".join(o.description for o in objs),
         "position": "; ".join(f"{o.description}: {rules.position(o)}" for o in objs),
         "evidence": "; ".join(f"the {o.description} is {CLASS_EVIDENCE[o.cls]}" for o in objs)},
    )


def moving_status(scene: Scene, rng: random.Random) -> Question:
    o = rng.choice([o for o in scene.objects if o.cls in VEHICLES])
    correct = STATUS_OPTION[o.status]
    options, letter = _mcq(rng, correct, [STATUS_OPTION[s] for s in VEHICLE_STATUS if s != o.status], 4)
    evidence = f"the {o.description} ({rules.position(o)}) {STATUS_EVIDENCE[o.status]}"
    return Question(
        "moving_status", "perception", 0,
        f"What is the moving status of object {ref(o)}? {OPTIONS_PROMPT} {format_options(options)}",
        f"{letter}. {correct} The {o.description} {STATUS_EVIDENCE[o.status]}.",
        {**_object_facts(o), "status": o.status, "answer_letter": letter, "answer_text": correct,
         "options": options},
        {"object": o.description, "position": _where(o), "evidence": evidence}, target=o.id,
        final=f"{letter}. {correct}",
    )


def sign_or_barrier(scene: Scene, rng: random.Random) -> Question:
    statics = [o for o in scene.objects if o.cls in STATIC_ROAD]
    o = rng.choice(statics if statics else scene.objects)
    yes = o.cls in STATIC_ROAD
    word = "Yes" if yes else "No"
    return Question(
        "sign_or_barrier", "prediction", 0,
        f"Is {ref(o)} a traffic sign or a road barrier?",
        f"{word}. It is {article(o.description)}.",
        {**_object_facts(o), "answer": word.lower()},
        {"object": o.description, "position": _where(o), "evidence": f"it is {CLASS_EVIDENCE[o.cls]}"},
        target=o.id, final=f"{word}.",
    )


def notice_order(scene: Scene, rng: random.Random) -> Question:
    ranked = rules.priority(scene)[:3]
    parts, order = [], []
    for ordinal, o in zip(ORDINALS, ranked):
        a = rules.advice(scene, o)
        parts.append(f"{ordinal}, notice that {o.description} at {rules.CAMERA_WORDS[o.camera]}. "
                     f"The object is {rules.state(o)}, so the ego vehicle should {a.action}.")
        order.append({**_object_facts(o), "action": a.action, "reason": a.reason, "urgency": a.level})
    question = (
        "What object should the ego vehicle notice first when the ego vehicle is getting to the next possible "
        "location? What is the state of the object that is first noticed by the ego vehicle and what action "
        "should the ego vehicle take? What object should the ego vehicle notice second when the ego vehicle is "
        "getting to the next possible location? What is the state of the object perceived by the ego vehicle as "
        "second and what action should the ego vehicle take? What object should the ego vehicle notice third? "
        "What is the state of the object perceived by the ego vehicle as third and what action should the ego "
        "vehicle take?"
    )
    return Question(
        "notice_order", "prediction", 3, question, " ".join(parts), {"order": order},
        {"object": "; ".join(o.description for o in ranked),
         "position": "; ".join(f"{o.description}: {_where(o)}" for o in ranked),
         "evidence": "; ".join(f"{x['description']}: {x['reason']}" for x in order)},
    )


def plan_action(scene: Scene, rng: random.Random) -> Question:
    o = rng.choice(scene.objects)
    a = rules.advice(scene, o)
    return Question(
        "plan_action", "planning", 1,
        f"What actions could the ego vehicle take based on {ref(o)}? Why take this action and what's the "
        "probability?",
        f"The action is to {a.action}. The reason is that {a.reason}, and the probability is {a.probability}.",
        {**_object_facts(o), "action": a.action, "reason": a.reason, "probability": a.probability,
         "urgency": a.level},
        {"object": o.description, "position": _where(o),
         "evidence": f"the {o.description} {STATUS_EVIDENCE[o.status]}; {a.reason}"},
        target=o.id,
    )


def plan_collision(scene: Scene, rng: random.Random) -> Question:
    o = rng.choice(scene.objects)
    action = rules.collision_action(o)
    return Question(
        "plan_collision", "planning", 1,
        f"What actions taken by the ego vehicle can lead to a collision with {ref(o)}?",
        action, {**_object_facts(o), "action": action},
        {"object": o.description, "position": _where(o),
         "evidence": f"the {o.description} is {rules.LANE_WORDS[o.lane]}, so "
                     + ("no ego action reaches it" if action == "None." else f"'{action[:-1].lower()}' reaches it")},
        target=o.id,
    )


def plan_safe(scene: Scene, rng: random.Random) -> Question:
    actions = rules.safe_actions(scene)
    text = join(actions)
    front = [o for o in scene.objects if o.camera == "CAM_FRONT"]
    hazards = [o for o in rules.priority(scene) if rules.advice(scene, o).level >= 2]
    main = hazards[0] if hazards else None
    return Question(
        "plan_safe", "planning", 1,
        "In this scenario, what are safe actions to take for the ego vehicle?",
        text[0].upper() + text[1:] + ".",
        {"actions": actions, "hazard": _object_facts(main) if main else None},
        {"object": main.description if main else "no hazard ahead",
         "position": _where(main) if main else f"{len(front)} objects ahead, none in the ego vehicle's way",
         "evidence": rules.advice(scene, main).reason if main else "nothing blocks or threatens the ego lane"},
    )


def ego_behavior(scene: Scene, rng: random.Random) -> Question:
    combos = [(st, sp) for st in STEERING for sp in SPEEDS]
    text = {c: f"{STEER_TEXT[c[0]]} {SPEED_TEXT[c[1]]}" for c in combos}
    truth = (scene.steering, scene.speed)
    options, letter = _mcq(rng, text[truth], [text[c] for c in combos if c != truth], 4)
    return Question(
        "ego_behavior", "behavior", 0,
        f"Predict the behavior of the ego vehicle. {OPTIONS_PROMPT} {format_options(options)}",
        f"{letter}. {text[truth]}",
        {"steering": scene.steering, "speed": scene.speed, "answer_letter": letter, "answer_text": text[truth],
         "options": options},
        {"object": "ego vehicle",
         "position": f"the road ahead {BEND_WORDS[scene.steering]}",
         "evidence": f"the road {BEND_WORDS[scene.steering]} and the lane dividers appear as "
                     f"{DASH_WORDS[scene.speed]}"},
    )


COLOUR_OPTION = {c: f"{c.capitalize()}." for c in VEHICLE_COLORS}


def vehicles(scene: Scene) -> list[SceneObject]:
    """The scene's vehicles in id order (the objects ``object_colour`` asks about)."""
    return sorted((o for o in scene.objects if o.cls in VEHICLES), key=lambda o: int(o.id[1:]))


def object_colours(scene: Scene, rng: random.Random, letters: Deck | None = None) -> list[Question]:
    """One "what colour is object <c…>?" MCQ per vehicle; ``letters`` deals the correct
    option's position (the split's colour deck has already painted the vehicles)."""
    out = []
    for o in vehicles(scene):
        correct = COLOUR_OPTION[o.color]
        options, letter = _mcq(rng, correct, [t for c, t in COLOUR_OPTION.items() if c != o.color], 4, letters)
        out.append(Question(
            "object_colour", "perception", 0,
            f"What colour is object {ref(o)}? {OPTIONS_PROMPT} {format_options(options)}",
            f"{letter}. {correct}",
            {**_object_facts(o), "color": o.color, "answer_letter": letter, "answer_text": correct,
             "options": options},
            {"object": o.description, "position": _where(o), "evidence": f"its body is {o.color}"},
            target=o.id, final=correct, bare=True, option_answers=dict(options),
        ))
    return out


TEMPLATES = {
    "important_objects": important_objects,
    "moving_status": moving_status,
    "sign_or_barrier": sign_or_barrier,
    "notice_order": notice_order,
    "plan_action": plan_action,
    "plan_collision": plan_collision,
    "plan_safe": plan_safe,
    "ego_behavior": ego_behavior,
    "object_colour": object_colours,
}
#: DriveBench's templates: the default question set of a synthetic benchmark.
DRIVEBENCH_TEMPLATES: tuple[str, ...] = tuple(TEMPLATES)[:8]
#: Templates asked once per matching object (their makers return a list).
PER_OBJECT = frozenset({"object_colour"})


def questions(scene: Scene, rng: random.Random, templates: tuple[str, ...] = DRIVEBENCH_TEMPLATES,
              letters: Deck | None = None) -> list[Question]:
    """The questions of ``templates`` for a laid-out scene, in the table's order (DriveBench's
    usual order first); a per-object template gives one question per matching object, with
    its correct letters dealt by ``letters`` when given."""
    out = []
    for name, make in TEMPLATES.items():
        if name not in templates:
            continue
        made = make(scene, rng, letters) if name in PER_OBJECT else make(scene, rng)
        for q in made if isinstance(made, list) else [made]:
            q.rationale.setdefault("environment", ENVIRONMENT[scene.time])
            out.append(q)
    return out


def rationale_answer(q: Question) -> str:
    """The training split's structured answer: final answer, object, position, environment, evidence
    (a ``bare`` question's final answer alone)."""
    if q.bare:
        return q.final
    r = q.rationale
    return (f"Final: {{{q.final or q.answer}}}\nObject: {r['object']}\nPosition & orientation: {r['position']}\n"
            f"Environment: {r['environment']}\nContextual evidence: {r['evidence']}")
