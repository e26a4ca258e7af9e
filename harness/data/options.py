"""Multiple-choice options and answer letters in DriveBench text.

Options are written inline: ``… from the following options: A. Going ahead.
B. Turn left. C. Turn right.`` and behaviour options hold several sentences each,
so they are split on the letter markers ``A.``, ``B.``, … taken in order (a stray
capital followed by a period inside an option cannot restart the sequence).
Answers start with the letter (``A``, ``A. Bit error``, ``C, Explanation: …``).
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=:))([A-F])\.\s")
_ANSWER_LETTER = re.compile(r"^\s*\(?([A-F])\)?(?:$|[.,:;)])")  # "A car" is not an answer letter
_YES_NO = re.compile(r"^\s*(yes|no)\b", re.I)


def parse_options(question: str) -> dict[str, str]:
    """Letter → option text (empty when the question lists no options)."""
    tail_start = question.lower().find("options:")
    tail = question[tail_start + len("options:"):] if tail_start >= 0 else question
    markers = list(_MARKER.finditer(tail))
    chain: list[re.Match] = []
    expected = "A"
    for m in markers:
        if m.group(1) == expected:
            chain.append(m)
            expected = chr(ord(expected) + 1)
    if len(chain) < 2:
        return {}
    options = {}
    for i, m in enumerate(chain):
        end = chain[i + 1].start() if i + 1 < len(chain) else len(tail)
        options[m.group(1)] = tail[m.end():end].strip()
    return options


def answer_letter(answer: str) -> str | None:
    """The option letter an MCQ reference answer starts with, or None."""
    m = _ANSWER_LETTER.match(answer)
    return m.group(1) if m else None


def yes_no(answer: str) -> str | None:
    """``yes``/``no`` when a reference answer starts with one of them, else None."""
    m = _YES_NO.match(answer)
    return m.group(1).lower() if m else None


def format_options(options: dict[str, str]) -> str:
    """Options back in DriveBench's inline spelling (``A. x B. y``)."""
    return " ".join(f"{letter}. {text}" for letter, text in options.items())
