"""Errors for bad data files: one line that names the file, the item and the field.

A malformed DriveBench or training item is a user's mistake, not a bug, so it is
a :class:`~harness.errors.HarnessError` and the CLI prints it as one line. The
message shape is fixed (``file: item 7: field 'tag': …``) so that a user can jump
straight to the offending entry.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError


def where(file: str | Path | None, index: int | None = None, field: str | None = None) -> str:
    """The ``file: item N: field 'f'`` prefix of a data error (parts left out when unknown)."""
    parts = []
    if file is not None:
        parts.append(Path(file).name)
    if index is not None:
        parts.append(f"item {index}")
    if field is not None:
        parts.append(f"field '{field}'")
    return ": ".join(parts)


class DataError(HarnessError):
    """A data file or one of its items is malformed; the message says where."""

    def __init__(self, message: str, *, file: str | Path | None = None, index: int | None = None,
                 field: str | None = None):
        self.file = str(file) if file is not None else None
        self.index = index
        self.field = field
        self.detail = message
        prefix = where(file, index, field)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ItemProblem(ValueError):
    """A problem found in one item, before the file and index are known (raised by validators)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"field '{field}': {message}")
