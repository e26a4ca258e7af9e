"""The ground-truth scene graph of a synthetic driving frame, and its random sampler.

A scene is what every answer is derived from and what the renderer draws: the
ego vehicle's steering and speed, the time of day, and a handful of objects
(cars, trucks, pedestrians, traffic signs, road barriers, a traffic light), each
in a lane slot at a distance with a visible state. Keeping the scene a small
JSON-able value lets evaluation items carry it, so a judge or an oracle can score
answers against the truth without re-running the generator.

Layout: each camera looks down a straight or curving three-lane road. ``lane`` is
-1 (left lane), 0 (ego lane), 1 (right lane) or ±2 (roadside); ``distance`` is
near, mid or far. :mod:`harness.data.synthetic.sampler` draws random scenes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

STEERING: tuple[str, ...] = ("straight", "slight_left", "left", "slight_right", "right")
SPEEDS: tuple[str, ...] = ("not_moving", "slow", "normal", "fast", "very_fast")
TIMES: tuple[str, ...] = ("day", "dusk", "night")
DISTANCES: tuple[str, ...] = ("near", "mid", "far")
VEHICLE_STATUS: tuple[str, ...] = ("going_ahead", "turn_left", "turn_right", "stopped")
PEDESTRIAN_STATUS: tuple[str, ...] = ("walking", "standing")
LIGHT_STATES: tuple[str, ...] = ("red", "yellow", "green")
VEHICLE_COLORS: tuple[str, ...] = ("red", "blue", "white", "black", "yellow", "green")
SHIRT_COLORS: tuple[str, ...] = ("red", "blue", "white", "yellow", "purple")  # no green: grass
SIGN_KINDS: tuple[str, ...] = ("red circular", "blue circular", "red triangular")

VEHICLES = ("car", "truck")
STATIC_ROAD = ("sign", "barrier")  # the classes the sign-or-barrier question says "yes" to
CLASSES: tuple[str, ...] = ("car", "truck", "pedestrian", "sign", "barrier", "traffic_light")

FRONT = "CAM_FRONT"
SIX_CAMERAS: tuple[str, ...] = (
    "CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT",
)


@dataclass
class SceneObject:
    """One object: class, look, where it is, what it is doing, and its drawn box."""

    id: str  # c1, c2, … as in DriveBench references
    cls: str  # one of CLASSES
    color: str  # body / shirt colour, sign kind, or "orange" for barriers
    camera: str
    lane: int  # -2 … 2, 0 = the camera's own lane
    distance: str  # near | mid | far
    status: str  # vehicles: VEHICLE_STATUS; pedestrians: walking/standing; lights: red/yellow/green; else static
    x: float = 0.0  # normalised centre of the drawn box (filled in by the layout)
    y: float = 0.0
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # normalised x0, y0, x1, y1

    @property
    def description(self) -> str:
        """How answers name the object (``red car``, ``pedestrian in a blue shirt``)."""
        if self.cls == "pedestrian":
            return f"pedestrian in a {self.color} shirt"
        if self.cls == "sign":
            return f"{self.color} traffic sign"
        if self.cls == "barrier":
            return "orange and white road barrier"
        if self.cls == "traffic_light":
            return "traffic light"
        return f"{self.color} {self.cls}"


@dataclass
class Scene:
    """A whole frame: ego state, environment, objects, and which cameras exist."""

    id: str
    cameras: tuple[str, ...]
    steering: str
    speed: str
    time: str
    objects: list[SceneObject] = field(default_factory=list)

    def object(self, obj_id: str) -> SceneObject:
        return next(o for o in self.objects if o.id == obj_id)

    def on(self, camera: str) -> list[SceneObject]:
        return [o for o in self.objects if o.camera == camera]

    def to_json(self) -> dict:
        data = asdict(self)
        data["cameras"] = list(self.cameras)
        for o in data["objects"]:
            o["box"] = [round(v, 4) for v in o["box"]]
            o["x"], o["y"] = round(o["x"], 4), round(o["y"], 4)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Scene":
        objects = [SceneObject(**{**o, "box": tuple(o["box"])}) for o in data["objects"]]
        return cls(id=data["id"], cameras=tuple(data["cameras"]), steering=data["steering"],
                   speed=data["speed"], time=data["time"], objects=objects)
