"""Object references inside DriveBench text: ``<c1,CAM_BACK,0.5073,0.5778>``.

A reference is an object id, the camera that sees it and the normalised image
position of its centre (x right, y down, both in [0, 1]). Questions use them to
point at an object; the cameras they name decide which images the official
evaluation shows the model.
"""

from __future__ import annotations

import re

from harness.data.errors import ItemProblem
from harness.data.types import CAMERAS, ObjectRef

# Anything that looks like a reference (``<c`` + digits + a comma) is checked, so a
# malformed one is reported instead of being silently read as plain text.
_CANDIDATE = re.compile(r"<(c\d+)\s*,([^<>]*)>")


def parse_object_refs(text: str, *, field: str = "question") -> tuple[ObjectRef, ...]:
    """All object references in ``text``, in order; a malformed one raises :class:`ItemProblem`."""
    refs = []
    for match in _CANDIDATE.finditer(text):
        obj_id, rest = match.group(1), match.group(2)
        parts = [p.strip() for p in rest.split(",")]
        if len(parts) != 3:
            raise ItemProblem(field, f"object reference {match.group(0)!r} must be <id,CAMERA,x,y>")
        camera, xs, ys = parts
        if camera not in CAMERAS:
            raise ItemProblem(
                field, f"object reference {match.group(0)!r} names unknown camera {camera!r} "
                f"(known: {', '.join(CAMERAS)})"
            )
        try:
            x, y = float(xs), float(ys)
        except ValueError:
            raise ItemProblem(field, f"object reference {match.group(0)!r}: x and y must be numbers") from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ItemProblem(
                field, f"object reference {match.group(0)!r}: x and y must be normalised to [0, 1]"
            )
        refs.append(ObjectRef(id=obj_id, camera=camera, x=x, y=y, text=match.group(0)))
    return tuple(refs)


def format_object_ref(obj_id: str, camera: str, x: float, y: float) -> str:
    """The DriveBench spelling of a reference (four decimals, as the official files)."""
    return f"<{obj_id},{camera},{x:.4f},{y:.4f}>"


def cameras_referred(refs: tuple[ObjectRef, ...]) -> list[str]:
    """The cameras the references name, in the canonical camera order."""
    named = {r.camera for r in refs}
    return [c for c in CAMERAS if c in named]
