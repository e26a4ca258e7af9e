"""Small, deterministic readings of answer text used by the rubric judge.

Normalised word sequences (for phrase search that ignores case and punctuation),
content-word overlap, canonical driving actions, positions, time of day, and two
form checks (clarity, conciseness). Pure functions; no model, no network.
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an the is are was were be been to of and or in on at for with by from as that this these those it its "
    "there their they them so then than which who what when where why how do does did can could should would "
    "will may might must ego vehicle object objects also any some into".split()
)


def norm(text: str | None) -> str:
    """Lower-case words joined by single spaces, padded with a space at each end."""
    return " " + " ".join(_WORD.findall((text or "").lower())) + " "


def words(text: str | None) -> list[str]:
    return _WORD.findall((text or "").lower())


def has_phrase(text: str | None, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (case and punctuation ignored)."""
    needle = norm(phrase)
    return needle.strip() != "" and needle in norm(text)


def count_phrase(text: str | None, phrase: str) -> int:
    needle = norm(phrase)
    if not needle.strip():
        return 0
    hay = norm(text)
    count, start = 0, 0
    while True:
        at = hay.find(needle, start)
        if at < 0:
            return count
        count += 1
        start = at + len(needle) - 1  # keep the shared boundary space


def content_words(text: str | None) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def overlap_f1(prediction: str | None, reference: str | None) -> float | None:
    """Bag-of-content-words F1 of a prediction against a reference (None when the reference has none)."""
    ref = Counter(content_words(reference))
    if not ref:
        return None
    pred = Counter(content_words(prediction))
    common = sum((pred & ref).values())
    if common == 0:
        return 0.0
    precision = common / sum(pred.values())
    recall = common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def recall(prediction: str | None, reference: str | None) -> float | None:
    """Share of the reference's content words the prediction contains."""
    ref = Counter(content_words(reference))
    if not ref:
        return None
    pred = Counter(content_words(prediction))
    return sum((pred & ref).values()) / sum(ref.values())


def set_f1(predicted: set, truth: set) -> float:
    if not predicted and not truth:
        return 1.0
    common = len(predicted & truth)
    if common == 0:
        return 0.0
    p, r = common / len(predicted), common / len(truth)
    return 2 * p * r / (p + r)


# Canonical ego actions, recognised by phrases (the harness's and DriveBench's wording).
_ACTIONS: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(rf"\b(?:{pattern})\b")) for name, pattern in (
    ("keep_speed", r"keep going|same speed|maintain (?:the |its |current )?speed|continue (?:ahead|forward|moving|driving|on)"
                   r"|proceed"),
    ("accelerate", r"accelerat\w*"),
    ("decelerate", r"decelerat\w*|slow down|slowly|reduce (?:the )?speed"),
    ("stop", r"stop|stops|brake|brakes|braking|come to a (?:full )?stop"),
    ("stay", r"remain stationary|stay (?:still|stopped|stationary)|wait"),
    ("lane_left", r"change (?:to )?(?:the )?left lane|change lanes? to the left|offset to the left"),
    ("lane_right", r"change (?:to )?(?:the )?right lane|change lanes? to the right|offset to the right"),
    ("back_up", r"back up|backing up|revers\w*"),
    ("turn_left", r"turn left|left turn"),  # "is turning left" describes another road user
    ("turn_right", r"turn right|right turn"),
    ("straight", r"go straight|going straight|straight ahead"),
))
_NONE_ACTION = re.compile(r"^ (?:none|no action|nothing)\b")


_NOT_ACTIONS = (" without braking ", " brake lights ", " brake light ")  # phrases that only look like actions


def actions(text: str | None) -> set[str]:
    """The canonical ego actions a text proposes ({"none"} for "None.")."""
    hay = norm(text)
    for phrase in _NOT_ACTIONS:
        hay = hay.replace(phrase, " ")
    found = {name for name, pattern in _ACTIONS if pattern.search(hay)}
    if not found and _NONE_ACTION.search(hay):
        found.add("none")
    return found


_FINAL = re.compile(r"\bfinal(?: answer)?\s*[:=]\s*(?:\{(?P<braced>.*?)\}|(?P<line>[^\n]*))", re.I | re.S)


def final_answer(text: str | None) -> str | None:
    """The committed part of an answer in Drive-KD's rationale format (``Final: {…}``), else None."""
    m = _FINAL.search(text or "")
    if not m:
        return None
    part = m.group("braced") if m.group("braced") is not None else m.group("line")
    return part.strip() or None


POSITIONS = ("front left", "front right", "back left", "back right", "front", "back")
_POSITION = re.compile(r"\b(front|back)(?: (left|right))?\b")


def positions(text: str | None) -> list[str]:
    """Relative positions a text names, in order (``front left``, ``back`` …)."""
    hay = norm(text)
    return [m.group(1) + (f" {m.group(2)}" if m.group(2) else "") for m in _POSITION.finditer(hay)]


TIMES = {"day": ("day", "daytime", "sunny", "blue sky"), "dusk": ("dusk", "sunset", "orange sky", "evening"),
         "night": ("night", "nighttime", "dark sky", "dark")}


def times_of_day(text: str | None) -> set[str]:
    return {name for name, cues in TIMES.items() if any(has_phrase(text, c) for c in cues)}


PROBABILITIES = ("high", "medium", "low")


def probabilities(text: str | None) -> set[str]:
    """Likelihood words used about probability ("the probability is high", "high probability")."""
    hay = norm(text)
    found = set()
    for m in re.finditer(r"\bprobab\w*((?: \w+){0,6}?) (high|medium|low)\b", hay):
        found.add(m.group(2))
    for m in re.finditer(r"\b(high|medium|low) (probability|likelihood|chance)\b", hay):
        found.add(m.group(1))
    return found


def clarity(text: str | None) -> float:
    """1 for a readable answer; 0 for an empty or degenerate one (a word repeated over half the text)."""
    w = words(text)
    if not w:
        return 0.0
    if len(w) >= 6 and Counter(w).most_common(1)[0][1] > len(w) / 2:
        return 0.0
    return 1.0


def conciseness(prediction: str | None, reference: str | None) -> float:
    """1 up to three times the reference's length (plus 20 words); shrinking beyond that."""
    n = len(words(prediction))
    if n == 0:
        return 0.0
    limit = 3 * len(words(reference)) + 20
    return 1.0 if n <= limit else max(0.0, limit / n)
