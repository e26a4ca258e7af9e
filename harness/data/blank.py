"""The black image the text-only setting shows in place of every camera.

DriveBench's "text-only" setting feeds a black frame per camera (its inference
builds a 224×224 zero image), which measures how much a model answers from the
question alone. Consumers only open paths, so the black frame is a real PNG,
written once into the harness cache.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from harness.files import atomic_write_bytes
from harness.paths import cache_dir

TEXT_ONLY = "text_only"
DEFAULT_SIZE = 224


def black_image_path(size: int = DEFAULT_SIZE, directory: str | Path | None = None) -> Path:
    """Path of a ``size``×``size`` black RGB PNG (created on first use, atomically)."""
    folder = Path(directory) if directory is not None else cache_dir() / "blank"
    path = folder / f"black-{size}.png"
    if not path.exists():
        png = io.BytesIO()
        Image.new("RGB", (size, size)).save(png, format="PNG")
        atomic_write_bytes(path, png.getvalue())
    return path
