"""Writing a synthetic benchmark folder: images, DriveBench eval files, training file.

Layout of ``OUT`` (every image path inside the JSON files is relative to ``OUT``,
which is the data root)::

    manifest.json                 seed, sizes, options, file list, counts
    train.json                    training format, structured rationale answers
    drivebench-clean.json         eval split, DriveBench format + scene graph + facts
    drivebench-text_only.json     the same items, every camera a black image
    drivebench-<corruption>.json  the same items on corrupted images (one per corruption)
    images/train/<scene>/<CAM>.png, images/eval/<setting>/<scene>/<CAM>.png, images/black.png

Generation is deterministic per seed: scene ``i`` of a split draws from its own
``random.Random`` seeded by (seed, split, i), and each corrupted image from a numpy
generator seeded by (seed, corruption, scene, camera). The folder is built in a
temporary sibling and renamed into place, so a reader never sees half a benchmark,
and carries ``checksums.json`` so a damaged one is found before it is read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from harness.data.conversations import IMAGE
from harness.data.errors import DataError
from harness.data.jsonfile import write_json
from harness.data.mapping import capability_of, kind_of
from harness.data.objects import cameras_referred, parse_object_refs
from harness.data.synthetic import corruptions as corruption_module
from harness.data.synthetic.questions import (DRIVEBENCH_TEMPLATES, TEMPLATES, Deck, Question, questions,
                                              rationale_answer, vehicles)
from harness.data.synthetic.render import render
from harness.data.synthetic.sampler import sample_scene
from harness.integrity import CorruptArtifact, is_intact, remove_stale_builds, verify_checksums, write_checksums
from harness.data.synthetic.scene import FRONT, SIX_CAMERAS, VEHICLE_COLORS, Scene
from harness.files import atomic_folder
from harness.registry import CORRUPTIONS
from harness.locks import BuildLock

log = logging.getLogger(__name__)

VERSION = 2  # 2: consecutive frames share a scene_token (several frames per scene, as DriveBench)
DEFAULT_CORRUPTIONS: tuple[str, ...] = ("fog", "low_light", "motion_blur", "bit_error", "frame_lost", "zoom_blur")
MANIFEST = "manifest.json"
#: Consecutive drawn scenes (each one key frame with its ~8 questions) that share a scene token,
#: like DriveBench's several key frames per nuScenes scene; reports resample by these clusters.
FRAMES_PER_SCENE = 4
TRAIN_FILE = "train.json"


def setting_file(setting: str) -> str:
    return f"drivebench-{setting}.json"


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthetic benchmark (its manifest repeats it)."""

    seed: int = 0
    train: int = 400  # training items (questions), 8 per scene
    eval: int = 160  # evaluation items (questions), 8 per scene
    image_size: int = 96
    cameras: int = 1  # 1 (front only) or 6
    corruptions: tuple[str, ...] = DEFAULT_CORRUPTIONS
    severity: int = 3
    templates: tuple[str, ...] = DRIVEBENCH_TEMPLATES  # which question templates each scene asks

    def check(self) -> None:
        if self.train < 0 or self.eval < 0:
            raise DataError(f"--train and --eval must be ≥ 0, got {self.train} and {self.eval}")
        if not 32 <= self.image_size <= 1024:
            raise DataError(f"--image-size must be between 32 and 1024 pixels, got {self.image_size}")
        if self.cameras not in (1, 6):
            raise DataError(f"--cameras must be 1 or 6, got {self.cameras}")
        if self.severity not in corruption_module.SEVERITIES:
            raise DataError(f"--severity must be 1-5, got {self.severity}")
        for name in self.corruptions:
            CORRUPTIONS.get(name)  # one-line error with the known names and the closest match
        if len(set(self.corruptions)) != len(self.corruptions):
            raise DataError(f"--corruptions lists a name twice: {', '.join(self.corruptions)}")
        unknown = [t for t in self.templates if t not in TEMPLATES]
        if unknown or not self.templates:
            raise DataError(f"templates: {', '.join(unknown) or 'none given'} (known: {', '.join(TEMPLATES)})")

    @property
    def camera_names(self) -> tuple[str, ...]:
        return (FRONT,) if self.cameras == 1 else SIX_CAMERAS

    def digest(self) -> str:
        """A short content hash: equal configs (and generator version) share a folder.

        The default template set is left out of the hash, so benchmarks built before the
        option existed keep their folders."""
        fields = asdict(self)
        if self.templates == DRIVEBENCH_TEMPLATES:
            del fields["templates"]
        data = repr((VERSION, sorted(fields.items())))
        return hashlib.sha256(data.encode()).hexdigest()[:12]


def _token(*parts) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def _rng_seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")


@dataclass
class Decks:
    """A split's balanced draws for the ``object_colour`` questions: the vehicles' body
    colours and the correct option's letter (a colour leaves the layout unchanged)."""

    colours: Deck
    letters: Deck

    @classmethod
    def of(cls, config: "SynthConfig", split: str) -> "Decks":
        rng = random.Random(f"drivekd-synth/{config.seed}/{split}/decks")
        return cls(Deck(VEHICLE_COLORS, rng), Deck(range(4), rng))


def build_scene(config: SynthConfig, split: str, index: int,
                decks: Decks | None = None) -> tuple[Scene, list[Question]]:
    """Scene ``index`` of ``split`` with its questions (deterministic per seed).

    With ``object_colour`` among the templates, the split's ``decks`` (drawn in scene
    order, so the benchmark is still deterministic) paint the vehicles and deal the
    letters, balancing that question's answers over the split; without decks the scene
    keeps its sampled colours and shuffled letters.
    """
    rng = random.Random(f"drivekd-synth/{config.seed}/{split}/{index}")
    scene_id = f"{split}-s{config.seed}-{index:06d}"
    scene = sample_scene(rng, scene_id, config.camera_names)  # laid out while sampling
    if decks is not None and "object_colour" in config.templates:
        for o in vehicles(scene):
            o.color = decks.colours.draw()
    return scene, questions(scene, rng, config.templates, decks.letters if decks is not None else None)


def _kept_cameras(question: str, cameras: tuple[str, ...]) -> list[str]:
    refs = parse_object_refs(question)
    return cameras_referred(refs) if refs else list(cameras)


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, compress_level=1)


def _eval_item(config: SynthConfig, index: int, scene: Scene, q: Question, images: dict[str, str]) -> dict:
    """One DriveBench-format item; ``index`` is the frame's number in the split (its scene is index // 4)."""
    item = {
        "id": f"{scene.id}:{q.key}",
        "scene_token": _token("scene", config.seed, "eval", index // FRAMES_PER_SCENE),
        "frame_token": _token("frame", config.seed, scene.id),
        "question_type": q.question_type,
        "question": q.question,
        "answer": q.answer,
        "tag": [q.tag],
        "image_path": images,
        "setting": "clean",
        "template": q.template,
        "facts": q.facts,
        "scene": scene.to_json(),
    }
    if q.option_answers is not None:
        item["option_answers"] = q.option_answers
    return item


def _train_item(scene: Scene, q: Question, images: dict[str, str]) -> dict:
    kept = _kept_cameras(q.question, scene.cameras)
    return {
        "id": f"{scene.id}:{q.key}",
        "messages": [
            {"role": "user", "content": IMAGE * len(kept) + q.question},
            {"role": "assistant", "content": rationale_answer(q)},
        ],
        "images": [images[c] for c in kept],
        "question_type": capability_of(q.question_type),
        "meta": {"template": q.template, "tag": q.tag, "drivebench_question_type": q.question_type,
                 "kind": kind_of(q.question_type, q.tag), "scene": scene.id, "reference_answer": q.answer,
                 "facts": q.facts},
    }


def _split(config: SynthConfig, split: str, count: int, root: Path, on_scene) -> list:
    """Build scenes of ``split`` until ``count`` questions exist; ``on_scene`` makes the items."""
    items: list = []
    index = 0
    decks = Decks.of(config, split)
    while len(items) < count:
        scene, qs = build_scene(config, split, index, decks)
        images = {}
        for camera in scene.cameras:
            rel = f"images/{split if split == 'train' else 'eval/clean'}/{scene.id}/{camera}.png"
            _save(render(scene, camera, config.image_size), root / rel)
            images[camera] = rel
        items.extend(on_scene(index, scene, qs[: count - len(items)], images))
        index += 1
    return items


def _corrupted(config: SynthConfig, items: list[dict], root: Path, name: str) -> list[dict]:
    out, done = [], {}
    for item in items:
        paths = {}
        for camera, rel in item["image_path"].items():
            if rel not in done:
                target = rel.replace("images/eval/clean/", f"images/eval/{name}/", 1)
                rng = np.random.default_rng(_rng_seed(config.seed, name, rel))
                with Image.open(root / rel) as img:
                    _save(corruption_module.apply(name, img, config.severity, rng), root / target)
                done[rel] = target
            paths[camera] = done[rel]
        out.append({**item, "image_path": paths, "setting": name})
    return out


def write_benchmark(root: Path, config: SynthConfig) -> dict:
    """Generate every file of the benchmark into ``root`` (an empty folder); returns the manifest."""
    train = _split(config, "train", config.train, root,
                   lambda index, scene, qs, images: [_train_item(scene, q, images) for q in qs])
    clean = _split(config, "eval", config.eval, root,
                   lambda index, scene, qs, images: [_eval_item(config, index, scene, q, images) for q in qs])
    black = "images/black.png"
    _save(Image.new("RGB", (config.image_size, config.image_size)), root / black)
    settings = {"clean": clean,
                "text_only": [{**it, "image_path": {c: black for c in it["image_path"]}, "setting": "text_only"}
                              for it in clean]}
    for name in config.corruptions:
        settings[name] = _corrupted(config, clean, root, name)
    write_json(root / TRAIN_FILE, train, indent=None)  # compact: each item repeats its scene graph
    for name, items in settings.items():
        write_json(root / setting_file(name), items, indent=None)
    manifest = {
        "generator": "harness.data.synthetic", "version": VERSION, **asdict(config),
        "corruptions": list(config.corruptions), "camera_names": list(config.camera_names),
        "templates": list(config.templates), "digest": config.digest(),
        "files": {"train": TRAIN_FILE, "settings": {name: setting_file(name) for name in settings}},
        "counts": {"train": len(train), "eval": len(clean),
                   "eval_frames": len({it["frame_token"] for it in clean}),
                   "eval_scenes": len({it["scene_token"] for it in clean})},
    }
    write_json(root / MANIFEST, manifest)
    write_checksums(root)
    return manifest


def generate(out: str | Path, config: SynthConfig, *, force: bool = False) -> dict:
    """Build the benchmark at ``out`` atomically; an existing benchmark needs ``force``."""
    config.check()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise DataError(f"{out} exists and is not a synthetic benchmark; pick an empty or new folder")
        if not force:
            raise DataError(f"{out} already holds a synthetic benchmark; pass --force to rebuild it")
    with atomic_folder(out) as tmp:
        manifest = write_benchmark(tmp, config)
    return manifest


def ensure(out: str | Path, config: SynthConfig) -> dict:
    """The manifest of the benchmark at ``out``, generating it first when absent.

    The folder's checksums are checked on every call; a damaged or incomplete one
    built from these same options is regenerated (generation is deterministic), any
    other damaged folder is refused naming the bad file. Builds of one folder take
    turns under a lock, and temporary folders of killed builds are removed.
    """
    out = Path(out)
    manifest_path = out / MANIFEST
    if manifest_path.is_file() and is_intact(out):
        return json.loads(manifest_path.read_text())
    config.check()
    out.parent.mkdir(parents=True, exist_ok=True)
    with BuildLock(out.parent / f".{out.name}.build"):
        if manifest_path.is_file() and is_intact(out):  # another process built it meanwhile
            return json.loads(manifest_path.read_text())
        remove_stale_builds(out)
        if out.exists() and any(out.iterdir()):
            try:
                verify_checksums(out, what="synthetic benchmark")
            except CorruptArtifact as exc:
                if _built_digest(out) != config.digest():
                    raise DataError(f"{exc}; it was not built from these options, so it is not regenerated") from None
                log.warning("%s; regenerating it", exc)
            shutil.rmtree(out)
        with atomic_folder(out) as tmp:
            manifest = write_benchmark(tmp, config)
    return manifest


def _built_digest(out: Path) -> str | None:
    try:
        return json.loads((out / MANIFEST).read_text()).get("digest")
    except (OSError, ValueError, AttributeError):
        return None
