"""Error types that separate a user's mistake from a bug.

The CLI prints a :class:`HarnessError` as one line on stderr and exits 2; anything
else is a bug and keeps its traceback. Every message is meant to be read alone, so
it names the file, field or item it is about, and suggests the closest valid name.
"""

from __future__ import annotations

import difflib


def closest(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The candidate most similar to ``name`` (or None when nothing is close)."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates) -> str:
    """A ``"; did you mean 'x'?"`` suffix for a message, or an empty string."""
    match = closest(name, list(candidates))
    return f"; did you mean '{match}'?" if match else ""


class HarnessError(Exception):
    """A mistake in the user's input (recipe, data, command line): shown as one line."""

    exit_code = 2


class UnknownComponentError(HarnessError, KeyError):
    """A registry was asked for a name it does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class DuplicateComponentError(HarnessError):
    """Two components tried to register under the same name in one registry."""


class RecipeError(HarnessError):
    """A recipe is malformed; the message names the file and the dotted field path."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        self.detail = message
        where = ": ".join(p for p in (file, field) if p)
        super().__init__(f"{where}: {message}" if where else message)

