"""Bounds on what a data file may hold, checked before any item is used.

Hostile or broken files should fail as one line naming the file and item, not as
a traceback (a recursion error on deeply nested JSON, a tokenizer chewing on a
2 MB question) or as silently wrong results (a duplicated item scored twice, an
image path that walks out of the data folder to ``/etc/passwd``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.data.errors import ItemProblem

MAX_DEPTH = 32  # DriveBench items nest 3 deep (item → image_path → camera)
MAX_STRING = 100_000  # characters; the longest real DriveBench answer is under 2,000


def check_bounds(value: Any, field: str = "(item)", depth: int = 0) -> None:
    """Raise :class:`ItemProblem` for nesting deeper than MAX_DEPTH or a string longer than MAX_STRING."""
    if depth > MAX_DEPTH:
        raise ItemProblem(field, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ItemProblem(field, f"is {len(value)} characters long (at most {MAX_STRING})")
    elif isinstance(value, dict):
        for key, child in value.items():
            check_bounds(child, key if field == "(item)" else f"{field}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            check_bounds(child, f"{field}[{i}]", depth + 1)


def image_under_root(path: str, root: Path, *, allow_outside_root: bool = False, field: str = "image_path") -> str:
    """The image path as it will be opened: relative paths under ``root``.

    A path that leaves ``root`` (``../../etc/passwd``, or an absolute path elsewhere)
    is refused unless ``allow_outside_root``, so a data file cannot make the harness
    read arbitrary files; the harness's own black frames of text-only items are
    allowed. The check is on the normalised path (symlinks inside the data folder
    are the data owner's choice and are followed when opening).
    """
    p = Path(path)
    full = p if p.is_absolute() else root / p
    if not allow_outside_root and not any(_inside(full, allowed) for allowed in (root, _blank_frames())):
        raise ItemProblem(field, f"'{path}' leaves the data root {root} (set allow_outside_root: true to allow it)")
    return str(full)


def _inside(path: Path, folder: Path) -> bool:
    base = os.path.normpath(os.path.abspath(folder))
    target = os.path.normpath(os.path.abspath(path))
    return target == base or target.startswith(base.rstrip(os.sep) + os.sep)


def _blank_frames() -> Path:
    """The harness's own black frames (text-only items written out point there)."""
    from harness.paths import cache_dir

    return cache_dir() / "blank"
