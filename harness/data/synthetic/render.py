"""Drawing a synthetic scene with PIL: bold colours and simple shapes a tiny model can read.

Every fact an answer depends on has a visible cue, so the questions are visually
grounded:

- ego steering: the road bends towards the steering side (slight vs full bend);
- ego speed: the duty cycle of the dashed lane lines (dots when not moving,
  almost solid lines when very fast);
- time of day: the sky colour (blue day, orange dusk, dark night);
- vehicle status: stopped = bright brake lights; going ahead = motion streaks
  below the vehicle; turning = an orange indicator on that side and the roof
  leaning that way;
- pedestrians: walking = legs apart, standing = legs together;
- class by shape: car (low box + window), truck (tall box), pedestrian (head,
  shirt, legs), barrier (orange/white stripes), sign (disc or triangle on a pole),
  traffic light (three lamps on a pole, one lit).
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from harness.data.synthetic.geometry import HORIZON, SCALE, curvature, ground_y, lane_x
from harness.data.synthetic.scene import Scene, SceneObject

SKY = {"day": (110, 170, 235), "dusk": (235, 140, 80), "night": (20, 25, 60)}
GRASS = {"day": (70, 140, 60), "dusk": (90, 110, 50), "night": (25, 45, 25)}
ROAD = {"day": (100, 100, 105), "dusk": (90, 88, 92), "night": (80, 80, 90)}  # black cars stay visible
COLORS = {
    "red": (220, 30, 30), "blue": (30, 70, 220), "white": (245, 245, 245), "black": (15, 15, 15),
    "yellow": (250, 215, 0), "green": (30, 170, 60), "purple": (150, 40, 200),
}
DASH_DUTY = {"not_moving": 0.1, "slow": 0.3, "normal": 0.5, "fast": 0.75, "very_fast": 0.95}
DASH_PERIOD = 0.16
BRAKE_ON, BRAKE_OFF = (255, 0, 0), (100, 0, 0)
INDICATOR = (255, 150, 0)
LAMP_ON = {"red": (255, 20, 20), "yellow": (255, 210, 0), "green": (0, 235, 70)}
LAMP_OFF = (150, 150, 150)  # unlit lamps stand out from sky and grass at any time of day
SKIN = (230, 180, 140)


class _Canvas:
    """Normalised-coordinate drawing on a square image."""

    def __init__(self, size: int, background):
        self.size = size
        self.image = Image.new("RGB", (size, size), background)
        self.draw = ImageDraw.Draw(self.image)

    def px(self, v: float) -> float:
        return v * self.size

    def rect(self, x0, y0, x1, y1, fill):
        p = self.px
        self.draw.rectangle([p(x0), p(y0), max(p(x0), p(x1) - 1), max(p(y0), p(y1) - 1)], fill=fill)

    def polygon(self, points, fill):
        self.draw.polygon([(self.px(x), self.px(y)) for x, y in points], fill=fill)

    def line(self, points, fill, width: float):
        self.draw.line([(self.px(x), self.px(y)) for x, y in points], fill=fill,
                       width=max(1, round(self.px(width))))

    def ellipse(self, cx, cy, r, fill):
        p = self.px
        rr = max(p(r), 0.6)
        self.draw.ellipse([p(cx) - rr, p(cy) - rr, p(cx) + rr, p(cy) + rr], fill=fill)


def _road(c: _Canvas, scene: Scene, camera: str) -> None:
    curve = curvature(scene, camera)
    steps = [i / 24 for i in range(25)]
    left = [(lane_x(s, -1.5, curve), ground_y(s)) for s in steps]
    right = [(lane_x(s, 1.5, curve), ground_y(s)) for s in reversed(steps)]
    c.polygon(left + right, ROAD[scene.time])
    white = (240, 240, 240)
    for edge in (-1.5, 1.5):
        c.line([(lane_x(s, edge, curve), ground_y(s)) for s in steps], white, 0.012)
    duty = DASH_DUTY[scene.speed]
    for divider in (-0.5, 0.5):
        start = 0.04
        while start < 1.0:
            end = min(1.0, start + DASH_PERIOD * duty)
            seg = [start + (end - start) * k / 4 for k in range(5)]
            c.line([(lane_x(s, divider, curve), ground_y(s)) for s in seg], white, 0.014)
            start += DASH_PERIOD


def _vehicle(c: _Canvas, o: SceneObject) -> None:
    x0, y0, x1, y1 = o.box
    w, h = x1 - x0, y1 - y0
    body = COLORS[o.color]
    lean = {"turn_left": -0.18, "turn_right": 0.18}.get(o.status, 0.0) * w
    if o.cls == "car":
        c.rect(x0, y0 + 0.35 * h, x1, y1 - 0.1 * h, body)  # body
        glass = (120, 130, 150) if o.color == "black" else (35, 40, 60)
        c.polygon([(x0 + 0.15 * w + lean, y0), (x1 - 0.15 * w + lean, y0),
                   (x1 - 0.08 * w, y0 + 0.36 * h), (x0 + 0.08 * w, y0 + 0.36 * h)], body)
        c.rect(x0 + 0.2 * w + lean, y0 + 0.08 * h, x1 - 0.2 * w + lean, y0 + 0.33 * h, glass)
        c.rect(x0 + 0.1 * w, y1 - 0.1 * h, x0 + 0.25 * w, y1, (20, 20, 20))  # wheels
        c.rect(x1 - 0.25 * w, y1 - 0.1 * h, x1 - 0.1 * w, y1, (20, 20, 20))
        lamp_y0, lamp_y1 = y0 + 0.45 * h, y0 + 0.65 * h
    else:  # truck: a tall cargo box, leaning like the car's roof when turning
        c.polygon([(x0 + lean, y0), (x1 + lean, y0), (x1, y1 - 0.12 * h), (x0, y1 - 0.12 * h)], body)
        c.rect(x0, y1 - 0.12 * h, x1, y1 - 0.05 * h, (60, 60, 60))  # bumper
        c.rect(x0 + 0.1 * w, y1 - 0.05 * h, x0 + 0.3 * w, y1, (20, 20, 20))
        c.rect(x1 - 0.3 * w, y1 - 0.05 * h, x1 - 0.1 * w, y1, (20, 20, 20))
        lamp_y0, lamp_y1 = y1 - 0.3 * h, y1 - 0.16 * h
    brake = BRAKE_ON if o.status == "stopped" else BRAKE_OFF
    frame = (0, 0, 0)  # a dark frame keeps the lamps readable on a red or yellow body
    for lx0, lx1 in ((x0, x0 + 0.2 * w), (x1 - 0.2 * w, x1)):
        c.rect(lx0, lamp_y0 - 0.04 * h, lx1, lamp_y1 + 0.04 * h, frame)
        c.rect(lx0 + 0.03 * w, lamp_y0, lx1 - 0.03 * w, lamp_y1, brake)
    if o.status in ("turn_left", "turn_right"):
        ix0 = x0 - 0.1 * w if o.status == "turn_left" else x1 - 0.14 * w
        c.rect(ix0, lamp_y0 - 0.16 * h, ix0 + 0.24 * w, lamp_y1 + 0.08 * h, frame)
        c.rect(ix0 + 0.03 * w, lamp_y0 - 0.12 * h, ix0 + 0.21 * w, lamp_y1 + 0.04 * h, INDICATOR)
    elif o.status == "going_ahead":
        streak = (230, 230, 230)
        for fx in (0.2, 0.5, 0.8):
            c.line([(x0 + fx * w, y1 + 0.02 * h), (x0 + fx * w, y1 + 0.35 * h)], streak, 0.012)


def _pedestrian(c: _Canvas, o: SceneObject) -> None:
    x0, y0, x1, y1 = o.box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    c.ellipse(cx, y0 + 0.1 * h, 0.1 * h, SKIN)
    c.rect(x0, y0 + 0.2 * h, x1, y0 + 0.6 * h, COLORS[o.color])
    legs = (30, 30, 80)
    spread = 0.7 * w if o.status == "walking" else 0.12 * w
    c.line([(cx - 0.12 * w, y0 + 0.6 * h), (cx - spread, y1)], legs, 0.35 * w)
    c.line([(cx + 0.12 * w, y0 + 0.6 * h), (cx + spread, y1)], legs, 0.35 * w)


def _barrier(c: _Canvas, o: SceneObject) -> None:
    x0, y0, x1, y1 = o.box
    w, h = x1 - x0, y1 - y0
    stripes = 6
    for k in range(stripes):
        color = (255, 110, 0) if k % 2 == 0 else (250, 250, 250)
        c.rect(x0 + k * w / stripes, y0, x0 + (k + 1) * w / stripes, y0 + 0.65 * h, color)
    c.rect(x0 + 0.1 * w, y0 + 0.65 * h, x0 + 0.18 * w, y1, (80, 80, 80))
    c.rect(x1 - 0.18 * w, y0 + 0.65 * h, x1 - 0.1 * w, y1, (80, 80, 80))


def _sign(c: _Canvas, o: SceneObject) -> None:
    x0, y0, x1, y1 = o.box
    w = x1 - x0
    cx, r = (x0 + x1) / 2, w / 2
    c.line([(cx, y0 + r), (cx, y1)], (150, 150, 150), 0.18 * w)
    cy = y0 + r
    if o.color == "red triangular":
        c.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], (220, 20, 20))
        c.polygon([(cx, cy - 0.45 * r), (cx + 0.5 * r, cy + 0.65 * r), (cx - 0.5 * r, cy + 0.65 * r)],
                  (250, 250, 250))
    elif o.color == "red circular":
        c.ellipse(cx, cy, r, (220, 20, 20))
        c.rect(cx - 0.65 * r, cy - 0.18 * r, cx + 0.65 * r, cy + 0.18 * r, (250, 250, 250))
    else:
        c.ellipse(cx, cy, r, (20, 80, 230))
        c.rect(cx - 0.15 * r, cy - 0.6 * r, cx + 0.15 * r, cy + 0.6 * r, (250, 250, 250))


def _traffic_light(c: _Canvas, o: SceneObject) -> None:
    x0, y0, x1, y1 = o.box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    c.line([(cx, y0 + 0.4 * h), (cx, y1)], (70, 70, 70), 0.25 * w)
    c.rect(x0, y0, x1, y0 + 0.42 * h, (200, 200, 200))  # a light frame, as traffic-light back plates have
    c.rect(x0 + 0.12 * w, y0 + 0.02 * h, x1 - 0.12 * w, y0 + 0.40 * h, (10, 10, 10))
    for k, state in enumerate(("red", "yellow", "green")):
        color = LAMP_ON[state] if o.status == state else LAMP_OFF
        c.ellipse(cx, y0 + (0.08 + 0.13 * k) * h, 0.36 * w, color)


_DRAW = {"car": _vehicle, "truck": _vehicle, "pedestrian": _pedestrian, "barrier": _barrier,
         "sign": _sign, "traffic_light": _traffic_light}


def render(scene: Scene, camera: str, size: int) -> Image.Image:
    """The ``size``×``size`` RGB image of ``scene`` seen from ``camera`` (objects must be laid out)."""
    c = _Canvas(size, GRASS[scene.time])
    c.rect(0, 0, 1, HORIZON, SKY[scene.time])
    _road(c, scene, camera)
    for o in sorted(scene.on(camera), key=lambda o: SCALE[o.distance]):  # far first
        _DRAW[o.cls](c, o)
    return c.image
