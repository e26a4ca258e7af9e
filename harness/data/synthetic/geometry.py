"""Where things appear in a synthetic camera image (pure math, normalised coordinates).

A simple pinhole-like road: the horizon at 40 % of the height, a three-lane road
narrowing towards a vanishing point that shifts sideways with the ego steering
(the road ahead bends the way the ego vehicle steers). Every object's box is a
function of its lane, distance and class only, so the renderer and the question
generator agree on where an object is: the reference ``<c1,CAM_FRONT,x,y>`` points
at the drawn object.
"""

from __future__ import annotations

from harness.data.synthetic.scene import FRONT, Scene, SceneObject

HORIZON = 0.40
LANE_WIDTH = 0.36  # lane width at the bottom of the image, as a fraction of the width
SCALE = {"near": 0.85, "mid": 0.55, "far": 0.36}
CURVE = {"straight": 0.0, "slight_left": -0.5, "left": -1.0, "slight_right": 0.5, "right": 1.0}
CURVE_SHIFT = 0.32  # sideways shift of the vanishing point for a full turn

# width, height of each class at scale 1 (fractions of the image size)
SIZE = {
    "car": (0.26, 0.17),
    "truck": (0.30, 0.30),
    "pedestrian": (0.07, 0.24),
    "barrier": (0.30, 0.12),
    "sign": (0.11, 0.34),
    "traffic_light": (0.09, 0.48),
}


def curvature(scene: Scene, camera: str) -> float:
    """How much the road bends in this camera (only the front view shows the steering)."""
    return CURVE[scene.steering] if camera == FRONT else 0.0


def ground_y(s: float) -> float:
    """Image row (normalised) of the road surface at scale ``s`` (1 = bottom of the image)."""
    return HORIZON + (1.0 - HORIZON) * s


def lane_x(s: float, lane: float, curve: float) -> float:
    """Image column (normalised) of a lane offset at scale ``s`` on a road bending by ``curve``."""
    return 0.5 + curve * CURVE_SHIFT * (1.0 - s) ** 2 + lane * LANE_WIDTH * s


def place(obj: SceneObject, curve: float) -> None:
    """Fill in ``obj.box`` and its reference point ``obj.x, obj.y``."""
    s = SCALE[obj.distance]
    w, h = SIZE[obj.cls]
    w, h = w * s, h * s
    cx = lane_x(s, obj.lane, curve)
    y1 = ground_y(s)
    obj.box = (cx - w / 2, y1 - h, cx + w / 2, y1)
    obj.x = cx
    # Signs and lights stand on a pole: point at the head, not at the pole.
    head = 0.17 if obj.cls == "sign" else 0.2 if obj.cls == "traffic_light" else 0.5
    obj.y = y1 - h * (1.0 - head)


def layout(scene: Scene) -> Scene:
    """Place every object of ``scene`` (in place) and return it."""
    for obj in scene.objects:
        place(obj, curvature(scene, obj.camera))
    return scene
