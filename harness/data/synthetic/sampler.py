"""Drawing random scenes: which objects, where, doing what.

Objects are placed in (lane, distance) slots so that none hides another: at most
one object per road lane (a nearer one would cover a farther one), and a slot is
only used when the object's drawn box does not overlap any box already placed in
that camera (the road's bend moves distant objects sideways, and tall near trucks
reach up into the roadside). Every question can therefore be answered from the
image. Object ids are assigned after a shuffle so they carry no information.
"""

from __future__ import annotations

import random

from harness.data.synthetic.geometry import curvature, place
from harness.data.synthetic.scene import (DISTANCES, FRONT, LIGHT_STATES, PEDESTRIAN_STATUS, SHIRT_COLORS,
                                          SIGN_KINDS, SPEEDS, STATIC_ROAD, STEERING, TIMES, VEHICLE_COLORS,
                                          VEHICLE_STATUS, VEHICLES, Scene, SceneObject)

# Where each class may stand: (lane, distance) slots. Roadside slots only exist at
# mid and far range, where the road is narrow enough for them to be in view.
_ROAD = tuple((lane, d) for lane in (-1, 0, 1) for d in DISTANCES)
_ROADSIDE = tuple((lane, d) for lane in (-2, 2) for d in ("mid", "far"))
_SLOTS: dict[str, tuple[tuple[int, str], ...]] = {
    "car": _ROAD,
    "truck": _ROAD,
    "pedestrian": _ROAD + _ROADSIDE,
    "barrier": _ROAD,
    "sign": _ROADSIDE,
    "traffic_light": _ROADSIDE,
}
_CLASS_WEIGHTS = {"car": 0.32, "truck": 0.16, "pedestrian": 0.22, "sign": 0.1, "barrier": 0.1, "traffic_light": 0.1}


def _status(cls: str, rng: random.Random) -> str:
    if cls in VEHICLES:
        return rng.choice(VEHICLE_STATUS)
    if cls == "pedestrian":
        return rng.choice(PEDESTRIAN_STATUS)
    if cls == "traffic_light":
        return rng.choice(LIGHT_STATES)
    return "static"


def _color(cls: str, rng: random.Random) -> str:
    if cls in VEHICLES:
        return rng.choice(VEHICLE_COLORS)
    if cls == "pedestrian":
        return rng.choice(SHIRT_COLORS)
    if cls == "sign":
        return rng.choice(SIGN_KINDS)
    if cls == "barrier":
        return "orange"
    return "black"


def _classes(rng: random.Random, n: int, want_static: bool) -> list[str]:
    """``n`` classes: the first a vehicle (moving-status questions need one), at most
    one traffic light, and a sign or barrier exactly when ``want_static``."""
    classes = [rng.choice(VEHICLES)]
    names, weights = zip(*_CLASS_WEIGHTS.items())
    while len(classes) < n:
        c = rng.choices(names, weights)[0]
        if c == "traffic_light" and c in classes:
            continue
        if c in STATIC_ROAD and not want_static:
            continue
        classes.append(c)
    if want_static and not any(c in STATIC_ROAD for c in classes):
        classes[rng.randrange(1, n)] = rng.choice(STATIC_ROAD)
    return classes


def _key(camera: str, lane: int, distance: str) -> tuple:
    """What a slot occupies: a whole road lane (a nearer object would hide a farther one
    in the same lane), or one roadside spot."""
    return (camera, lane) if abs(lane) < 2 else (camera, lane, distance)


def _overlap(a: tuple, b: tuple, margin: float = 0.01) -> bool:
    """Whether two normalised boxes (x0, y0, x1, y1) overlap, with a small margin."""
    return a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin


def sample_scene(rng: random.Random, scene_id: str, cameras: tuple[str, ...] = (FRONT,)) -> Scene:
    """A random scene with 3-5 objects; half the scenes hold a sign or barrier.

    A drawn object that fits in no free slot is left out; when that leaves fewer
    than three objects or removes the only sign or barrier, the scene is drawn again (from the same generator, so
    still deterministic) to keep the sign-or-barrier answers balanced.
    """
    want_static = rng.random() < 0.5
    for _ in range(50):
        scene = _attempt(rng, scene_id, tuple(cameras), want_static)
        has_static = any(o.cls in STATIC_ROAD for o in scene.objects)
        if len(scene.objects) >= 3 and has_static == want_static:
            break
    return scene


def _attempt(rng: random.Random, scene_id: str, cameras: tuple[str, ...], want_static: bool) -> Scene:
    n = rng.randint(3, 5)
    classes = _classes(rng, n, want_static)
    scene = Scene(id=scene_id, cameras=cameras, steering=rng.choice(STEERING),
                  speed=rng.choice(SPEEDS), time=rng.choice(TIMES))
    taken: set[tuple] = set()
    for i, cls in enumerate(classes):
        # The first (vehicle) object is in front when there is a front camera, so
        # every scene has a vehicle the front view shows.
        camera = FRONT if (i == 0 or len(cameras) == 1) else rng.choice(cameras)
        color, status = _color(cls, rng), _status(cls, rng)
        free = []
        for lane, distance in _SLOTS[cls]:
            if _key(camera, lane, distance) in taken:
                continue
            candidate = SceneObject(id="", cls=cls, color=color, camera=camera, lane=lane, distance=distance,
                                    status=status)
            place(candidate, curvature(scene, camera))
            if not any(_overlap(candidate.box, o.box) for o in scene.on(camera)):
                free.append(candidate)
        if not free:
            continue
        obj = rng.choice(free)
        taken.add(_key(obj.camera, obj.lane, obj.distance))
        scene.objects.append(obj)
    rng.shuffle(scene.objects)  # ids carry no information about class or position
    for k, o in enumerate(scene.objects, start=1):
        o.id = f"c{k}"
    return scene
