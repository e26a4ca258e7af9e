"""Reading a closed answer (option letter, yes/no) out of free generated text.

Two MCQ parsers, because the numbers people compare against were produced by one
and the truth needs the other:

- ``official`` reproduces DriveBench's released extractor: it lower-cases the
  stripped text, then looks for the letters a, b, c, d as whole words in the order
  A → D, and takes the first letter that occurs *anywhere*. Any English article "a"
  therefore reads as option A ("The car is a sedan, so C" → A). It exists for
  parity with published numbers only. Lower-casing first (not a case-insensitive
  search) matters on Unicode input: "İ" lower-cases to "i" plus a combining dot,
  which is not a word character, so a word boundary appears where there was none.
- ``strict`` accepts an answer only when the text commits to one: a letter at the
  very start (``B``, ``B.``, ``(B)``, ``B: …``), "answer is X" / "answer: X",
  Drive-KD's training format "Final: {X. …}", "option X", or the text of exactly
  one of the options. A capital letter commits when followed by punctuation or the
  end; a lower-case one only in brackets (``(b)``) or followed by ``)``, ``.``, ``:``
  or the end (``c) Turn right``), never as an article ("a car"). A text naming two
  different letters by the same rule has no answer.

Yes/no: ``strict`` (the default) needs a text that commits to one word; ``official``
reproduces DriveBench's released helper, which lower-cases and answers "yes" if the
word yes occurs anywhere, else "no" if no does ("no, yes" reads yes).

Both are reported next to each other, so a reader sees how much of an accuracy
is the extractor's doing.
"""

from __future__ import annotations

import re

MODES = ("official", "strict")

_OFFICIAL_LETTERS = ("a", "b", "c", "d")
_MARKDOWN = re.compile(r"[*_`#>]+")
# A lower-case letter commits only bracketed or before ) . : or the end ("a car" is an article).
_LOWER = r"[\(\[]([a-f])[\)\]]|([a-f])(?=\s*$|[.:)\]])"
# "(B) …", or a bare capital followed by the end, punctuation or a new line ("A car" is not A).
_START_LETTER = re.compile(r"^\s*(?:[\(\[]([A-F])[\)\]]|([A-F])(?=\s*$|\s*[.,:;)\]\-–\n])|" + _LOWER + ")")
_ANSWER_IS = re.compile(r"(?i:\banswer\s*(?:is|:|=)\s*(?:(?i:option)\s*)?)(?:[\(\[]?([A-F])(?![\w'])|" + _LOWER + ")")
_FINAL = re.compile(r"(?i:\bfinal(?: answer)?\s*[:=]\s*)[\{\(\[]?\s*([A-F])(?![\w'])")  # Drive-KD's "Final: {B. …}"
_OPTION_X = re.compile(r"(?i:\boption)\s*[\(\[]?([A-Fa-f])(?![\w'])")
_WORD = re.compile(r"[a-z0-9]+")

_YES_NO_START = re.compile(r"^\s*(yes|no)\b", re.I)
_YES_NO_ANSWER = re.compile(r"\b(?:answer\s*(?:is|:|=)|final(?: answer)?\s*[:=]\s*[\{\(\[]?)\s*(yes|no)\b", re.I)
_YES_NO_ANY = re.compile(r"\b(yes|no)\b", re.I)


def _clean(text: str | None) -> str:
    return _MARKDOWN.sub("", text or "").strip()


def _words(text: str) -> str:
    """Lower-case words joined by single spaces, with a space at each end (for phrase search)."""
    return " " + " ".join(_WORD.findall(text.lower())) + " "


def parse_official(text: str | None) -> str | None:
    """DriveBench's released letter extractor: lower-case, then the first of a, b, c, d present as a whole word."""
    body = (text or "").strip().lower()
    for letter in _OFFICIAL_LETTERS:
        if re.search(rf"\b{letter}\b", body):
            return letter.upper()
    return None


def _letter(match: re.Match) -> str:
    return next(g for g in match.groups() if g).upper()


def _found(pattern: re.Pattern, body: str) -> list[str]:
    return [_letter(m) for m in pattern.finditer(body)]


def _unique(letters: list[str]) -> str | None:
    distinct = set(letters)
    return letters[0] if len(distinct) == 1 else None


def _by_option_text(text: str, options: dict[str, str]) -> str | None:
    """The one option whose full text the prediction contains (a contained option yields to its container)."""
    haystack = _words(text)
    hits = {}
    for letter, option in options.items():
        needle = _words(option)
        if needle.strip() and needle in haystack:
            hits[letter] = needle
    kept = [letter for letter, needle in hits.items()
            if not any(other != letter and needle != n and needle.strip() in n for other, n in hits.items())]
    return kept[0] if len(kept) == 1 else None


def parse_strict(text: str | None, options: dict[str, str] | None = None) -> str | None:
    """The option letter a text commits to, or None (see the module docstring for the rules)."""
    body = _clean(text)
    if not body:
        return None
    allowed = set(options) if options else None

    def ok(letter: str | None) -> str | None:
        if letter is None or (allowed is not None and letter not in allowed):
            return None
        return letter

    start = _START_LETTER.match(body)
    if start:
        return ok(_letter(start))
    for pattern in (_ANSWER_IS, _FINAL, _OPTION_X):
        found = _found(pattern, body)
        if found:
            return ok(_unique(found))
    if options:
        return _by_option_text(body, options)
    return None


def parse_mcq(text: str | None, mode: str = "strict", options: dict[str, str] | None = None) -> str | None:
    """The option letter of a generated MCQ answer under ``mode`` (``official`` or ``strict``)."""
    if mode == "official":
        return parse_official(text)
    if mode == "strict":
        return parse_strict(text, options)
    raise ValueError(f"parse_mcq: mode must be one of {', '.join(MODES)}, not {mode!r}")


def parse_yes_no(text: str | None, mode: str = "strict") -> str | None:
    """``yes`` / ``no`` under ``mode``, else None.

    ``strict``: the text starts with yes/no, says "answer is yes/no" or "Final: {Yes.}", or uses
    only one of the two words throughout ("It is not a sign, so no." → no); a text that says both
    ("Yes … no …") or neither has no answer. ``official``: DriveBench's released helper (yes if
    the word occurs anywhere, else no if that does).
    """
    if mode == "official":
        body = (text or "").strip().lower()
        if re.search(r"\byes\b", body):
            return "yes"
        return "no" if re.search(r"\bno\b", body) else None
    if mode != "strict":
        raise ValueError(f"parse_yes_no: mode must be one of {', '.join(MODES)}, not {mode!r}")
    body = _clean(text)
    if not body:
        return None
    for pattern in (_YES_NO_START, _YES_NO_ANSWER):
        m = pattern.search(body)
        if m:
            return m.group(1).lower()
    found = {w.lower() for w in _YES_NO_ANY.findall(body)}
    return found.pop() if len(found) == 1 else None
