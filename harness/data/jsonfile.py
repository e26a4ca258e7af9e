"""Reading and writing the JSON files data comes in (a JSON array, or JSON lines).

DriveBench ships flat JSON arrays; its inference writes JSON lines. Both are read
here, and a parse error names the file and the line; non-UTF-8 text, nesting beyond
:data:`~harness.data.limits.MAX_DEPTH` and oversized strings are refused the same way. Writes are atomic (temporary
file + rename) so a half-written benchmark is never mistaken for a whole one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.data.errors import DataError, ItemProblem
from harness.data.limits import MAX_DEPTH, check_bounds
from harness.files import atomic_write_text


def read_items(path: str | Path) -> list[Any]:
    """The items of a JSON array file or a JSON-lines file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"is not UTF-8 text (byte {exc.start})", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot be read ({exc.strerror or exc})", file=path) from None
    stripped = text.lstrip()
    if not stripped:
        raise DataError("the file is empty", file=path)
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=path) from None
        except RecursionError:
            raise DataError(f"nested too deeply (at most {MAX_DEPTH} levels)", file=path) from None
        return _bounded(data, path)
    if stripped.startswith("{"):
        items = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except RecursionError:
                raise DataError(f"line {lineno} is nested too deeply (at most {MAX_DEPTH} levels)", file=path) from None
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"line {lineno} is not valid JSON ({exc.msg}); expected a JSON array or one object per line",
                    file=path,
                ) from None
        return _bounded(items, path)
    raise DataError("expected a JSON array of items or JSON lines (one object per line)", file=path)


def _bounded(data: Any, path: Path) -> Any:
    """``data`` after :func:`~harness.data.limits.check_bounds` on each item (a list's) or on the whole."""
    for index, item in enumerate(data) if isinstance(data, list) else [(None, data)]:
        try:
            check_bounds(item, depth=1)
        except ItemProblem as problem:
            raise DataError(problem.message, file=path, index=index, field=problem.field) from None
    return data


def write_json(path: str | Path, data: Any, *, indent: int | None = 1) -> None:
    """Write ``data`` as JSON atomically (:func:`harness.files.atomic_write_text`)."""
    atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
