"""Driving rules that turn a scene graph into the facts behind every answer.

These are deliberately simple, deterministic traffic rules (red light → stop,
pedestrian in the ego lane → stop, stopped car close ahead → stop, a barrier in
the ego lane → change to a free lane, a car in the next lane turning towards the
ego lane → slow down, …). Because each rule reads only what the image shows
(lane, distance, class, lamps, light colour), the answers are visually grounded.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.data.synthetic.scene import DISTANCES, FRONT, VEHICLES, Scene, SceneObject

CAMERA_SIDE = {
    "CAM_FRONT": "front", "CAM_FRONT_LEFT": "front left", "CAM_FRONT_RIGHT": "front right",
    "CAM_BACK": "back", "CAM_BACK_LEFT": "back left", "CAM_BACK_RIGHT": "back right",
}
CAMERA_WORDS = {
    "CAM_FRONT": "front camera", "CAM_FRONT_LEFT": "front left camera", "CAM_FRONT_RIGHT": "front right camera",
    "CAM_BACK": "back camera", "CAM_BACK_LEFT": "back left camera", "CAM_BACK_RIGHT": "back right camera",
}
LANE_WORDS = {-2: "on the left roadside", -1: "in the left lane", 0: "in the ego lane", 1: "in the right lane",
              2: "on the right roadside"}
STATE_WORDS = {
    "going_ahead": "moving ahead", "turn_left": "turning left", "turn_right": "turning right",
    "stopped": "stationary", "walking": "walking", "standing": "standing still", "static": "stationary",
    "red": "showing a red light", "yellow": "showing a yellow light", "green": "showing a green light",
}

KEEP = "keep going at the same speed"
ACCELERATE = "accelerate"
DECELERATE = "decelerate gradually without braking"
STOP = "brake gently to a stop"
STAY = "remain stationary"


@dataclass(frozen=True)
class Advice:
    """What the ego vehicle should do about one object, why, and how urgent it is (0-3)."""

    action: str
    reason: str
    probability: str
    level: int


def position(o: SceneObject) -> str:
    """Where the object is relative to the ego vehicle (``front left``, ``back`` …)."""
    if o.camera != FRONT:
        return CAMERA_SIDE[o.camera]
    if o.x < 0.4:
        return "front left"
    if o.x > 0.6:
        return "front right"
    return "front"


def blocking(o: SceneObject) -> bool:
    """Objects that occupy a lane (a lane change into their lane is not free)."""
    return o.cls in VEHICLES + ("pedestrian", "barrier") and o.distance in ("near", "mid")


def free_lanes(scene: Scene) -> list[str]:
    """Adjacent front lanes with nothing close in them (``left``, ``right``)."""
    sides = []
    for lane, side in ((-1, "left"), (1, "right")):
        if not any(o.camera == FRONT and o.lane == lane and blocking(o) for o in scene.objects):
            sides.append(side)
    return sides


def advice(scene: Scene, o: SceneObject) -> Advice:
    """The ego vehicle's best action with respect to one object."""
    desc = o.description
    if o.cls == "traffic_light":
        return {
            "red": Advice(STOP, "the traffic light ahead is red", "high", 3),
            "yellow": Advice(DECELERATE, "the traffic light ahead is turning yellow", "high", 2),
            "green": Advice(KEEP, "the traffic light ahead is green", "high", 0),
        }[o.status]
    if o.cls == "sign":
        return Advice(KEEP, "the sign has little reference value for the ego vehicle", "high", 0)
    if o.camera != FRONT:
        level = 1 if o.cls in VEHICLES and o.distance == "near" else 0
        return Advice(KEEP, f"the {desc} is not on the ego vehicle's path, so there is no safety issue", "high", level)
    if abs(o.lane) == 2:
        return Advice(KEEP, f"the {desc} is on the roadside, off the road", "high", 0)
    if o.lane == 0:
        return _ego_lane(scene, o)
    if o.cls == "pedestrian":
        return Advice(DECELERATE, f"the {desc} is on the road in the adjacent lane", "high", 2)
    towards = (o.lane == -1 and o.status == "turn_right") or (o.lane == 1 and o.status == "turn_left")
    if o.cls in VEHICLES and towards and o.distance in ("near", "mid"):
        return Advice(DECELERATE, f"the {desc} may cut into the ego lane", "medium", 2)
    return Advice(KEEP, "there is no safety issue", "high", 1 if o.cls in VEHICLES else 0)


def _ego_lane(scene: Scene, o: SceneObject) -> Advice:
    desc = o.description
    if o.cls == "pedestrian":
        return Advice(STOP, f"the {desc} is in the ego lane", "high", 3)
    if o.cls == "barrier":
        lanes = free_lanes(scene)
        if lanes:
            return Advice(f"change to the {lanes[0]} lane", f"the {desc} blocks the ego lane", "high", 2)
        return Advice(STOP, f"the {desc} blocks the ego lane and both adjacent lanes are occupied", "high", 3)
    if o.status == "stopped":
        if o.distance == "near":
            return Advice(STOP, f"the {desc} ahead in the ego lane is stopped", "high", 3)
        return Advice(DECELERATE, f"the {desc} ahead in the ego lane is stopped", "high", 2)
    if o.status in ("turn_left", "turn_right"):
        side = o.status.split("_")[1]
        return Advice(DECELERATE, f"the {desc} ahead is turning {side}", "high", 2)
    if o.distance == "near":
        return Advice(DECELERATE, f"the {desc} ahead is close, so a safe distance must be kept", "high", 2)
    return Advice(KEEP, f"the {desc} ahead is moving in the same direction", "high", 1)


def collision_action(o: SceneObject) -> str:
    """The ego action that would hit the object (``None.`` when no action would)."""
    if o.cls in ("sign", "traffic_light") or abs(o.lane) == 2:
        return "None."
    if o.camera == FRONT:
        return {0: "Accelerate and go straight ahead.", -1: "Change to the left lane.",
                1: "Change to the right lane."}[o.lane]
    if o.camera == "CAM_BACK":
        return "Back up." if o.lane == 0 else "None."
    return "Turn left." if "LEFT" in o.camera else "Turn right."


def safe_actions(scene: Scene) -> list[str]:
    """The set of safe ego actions for the whole scene (most cautious rule wins)."""
    front = [(o, advice(scene, o)) for o in scene.objects if o.camera == FRONT]
    red = any(o.cls == "traffic_light" and o.status == "red" for o, _ in front)
    top = max((a.level for _, a in front), default=0)
    lanes = [f"change to the {side} lane" for side in free_lanes(scene)]
    in_lane = any(o.lane == 0 and a.level >= 2 for o, a in front)
    if red:
        return [STOP] + ([STAY] if scene.speed == "not_moving" else [])
    if top >= 3:
        return [STOP] + (lanes if in_lane else [])
    if top == 2:
        return [DECELERATE] + (lanes if in_lane else [])
    return [KEEP, ACCELERATE]


def priority(scene: Scene) -> list[SceneObject]:
    """Objects in the order the ego vehicle should notice them: urgency, then distance."""
    def key(o: SceneObject):
        return (-advice(scene, o).level, o.camera != FRONT, DISTANCES.index(o.distance), int(o.id[1:]))

    return sorted(scene.objects, key=key)


def state(o: SceneObject) -> str:
    """The object's state in words (``turning left``, ``showing a red light`` …)."""
    return STATE_WORDS[o.status]
