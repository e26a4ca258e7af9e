"""Image corruptions for robustness settings, in the spirit of DriveBench's 15.

Each corruption is a pure function ``(image, severity 1-5, numpy Generator) → image``
registered in ``CORRUPTIONS``: the same inputs always give the same output, and
randomness comes only from the generator passed in, so a benchmark is
reproducible from its seed. They are deliberately cheap numpy/PIL operations, not
replicas of DriveBench's exact corruption code (which produced the real files).
``DRIVEBENCH_NAMES`` gives the official setting each one imitates.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

from harness.registry import CORRUPTIONS

DRIVEBENCH_NAMES: dict[str, str] = {
    "fog": "Fog", "low_light": "LowLight", "motion_blur": "MotionBlur", "zoom_blur": "ZoomBlur",
    "bit_error": "BitError", "frame_lost": "FrameLost", "brightness": "Brightness", "saturate": "Saturate",
    "color_quant": "ColorQuant", "snow": "Snow",
}
SEVERITIES = (1, 2, 3, 4, 5)


def _level(values: tuple, severity: int):
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be 1-5, got {severity}")
    return values[severity - 1]


def _array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def _image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(array + 0.5, 0, 255).astype(np.uint8), "RGB")


@CORRUPTIONS.register("fog")
def fog(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Fog: a grey haze, thickest towards the top (the distance), with a little patchiness."""
    a = _array(image)
    h, w, _ = a.shape
    strength = _level((0.3, 0.45, 0.6, 0.72, 0.82), severity)
    rows = np.linspace(1.0, 0.55, h, dtype=np.float32)[:, None, None]
    patches = 1.0 + 0.08 * rng.standard_normal((1, w, 1)).astype(np.float32)
    alpha = np.clip(strength * rows * patches, 0, 0.95)
    return _image(a * (1 - alpha) + 205.0 * alpha)


@CORRUPTIONS.register("low_light")
def low_light(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Low light: darkened with a gamma curve plus sensor noise."""
    a = _array(image) / 255.0
    factor = _level((0.6, 0.45, 0.33, 0.24, 0.16), severity)
    noise = _level((2.0, 3.5, 5.0, 6.5, 8.0), severity)
    dark = (a ** 1.4) * factor * 255.0
    return _image(dark + noise * rng.standard_normal(a.shape).astype(np.float32))


@CORRUPTIONS.register("motion_blur")
def motion_blur(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Motion blur: a horizontal streak (average of shifted copies), length grows with severity."""
    a = _array(image)
    length = max(2, round(a.shape[1] * _level((0.03, 0.05, 0.08, 0.11, 0.15), severity)))
    padded = np.pad(a, ((0, 0), (length, length), (0, 0)), mode="edge")
    direction = 1 if rng.random() < 0.5 else -1
    out = np.zeros_like(a)
    for k in range(length):
        shift = length + direction * k
        out += padded[:, shift:shift + a.shape[1]]
    return _image(out / length)


@CORRUPTIONS.register("zoom_blur")
def zoom_blur(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Zoom blur: the average of the image zoomed about its centre by growing factors."""
    image = image.convert("RGB")
    w, h = image.size
    top = _level((0.06, 0.1, 0.15, 0.2, 0.28), severity)
    out = _array(image)
    steps = 6
    for k in range(1, steps + 1):
        z = 1 + top * k / steps
        zw, zh = round(w * z), round(h * z)
        big = image.resize((zw, zh), Image.BILINEAR)
        left, upper = (zw - w) // 2, (zh - h) // 2
        out += _array(big.crop((left, upper, left + w, upper + h)))
    return _image(out / (steps + 1))


@CORRUPTIONS.register("bit_error")
def bit_error(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Bit errors in a video stream: displaced, colour-cast bands and a smeared lower part."""
    a = _array(image)
    h, w, _ = a.shape
    bands = _level((1, 2, 3, 4, 6), severity)
    for _ in range(bands):
        y0 = int(rng.integers(0, h))
        y1 = min(h, y0 + max(2, int(h * rng.uniform(0.04, 0.12))))
        shift = int(rng.integers(-w // 4, w // 4 + 1))
        cast = rng.uniform(-70, 70, size=3).astype(np.float32)
        a[y0:y1] = np.roll(a[y0:y1], shift, axis=1) + cast
    smear_from = int(h * _level((0.95, 0.88, 0.8, 0.7, 0.6), severity))
    if smear_from < h:
        a[smear_from:] = a[smear_from - 1:smear_from] + rng.normal(0, 12, size=(h - smear_from, w, 3))
    return _image(a)


@CORRUPTIONS.register("frame_lost")
def frame_lost(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Frame lost: the camera delivers a black frame, with a probability that grows with severity."""
    if rng.random() < _level((0.2, 0.4, 0.6, 0.8, 1.0), severity):
        return Image.new("RGB", image.size)
    return image.convert("RGB").copy()


@CORRUPTIONS.register("brightness")
def brightness(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Over-exposure: every pixel pushed towards white."""
    a = _array(image)
    b = _level((0.15, 0.25, 0.35, 0.45, 0.55), severity)
    return _image(a + (255.0 - a) * b)


@CORRUPTIONS.register("saturate")
def saturate(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Over-saturated colours."""
    return ImageEnhance.Color(image.convert("RGB")).enhance(_level((1.6, 2.2, 2.8, 3.5, 4.5), severity))


@CORRUPTIONS.register("color_quant")
def color_quant(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Colour quantisation: fewer bits per channel."""
    bits = _level((5, 4, 3, 2, 1), severity)
    step = 256 // (2 ** bits)
    a = np.asarray(image.convert("RGB"), dtype=np.int32)
    return Image.fromarray(((a // step) * step + step // 2).clip(0, 255).astype(np.uint8), "RGB")


@CORRUPTIONS.register("snow")
def snow(image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Snow: white flakes over a light haze."""
    a = _array(image)
    h, w, _ = a.shape
    a = a * (1 - 0.08 * severity) + 230.0 * 0.08 * severity
    count = int(h * w * _level((0.01, 0.02, 0.03, 0.045, 0.06), severity))
    ys, xs = rng.integers(0, h, count), rng.integers(0, w, count)
    a[ys, xs] = 250.0
    return _image(a)


def apply(name: str, image: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Apply the registered corruption ``name`` (unknown names raise a one-line error)."""
    return CORRUPTIONS.get(name)(image, severity, rng)
