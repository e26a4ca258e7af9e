"""The registered datasets a recipe names under ``data.train`` / ``data.eval``.

Every dataset is a class whose keyword constructor arguments are its recipe
options, and which answers two questions:

- ``train_samples() -> list[TrainSample]`` (training data), and
- ``eval_items(setting="clean") -> list[EvalItem]`` for a setting in ``settings()``
  (``clean``, ``text_only`` and any corruption settings it has).

A dataset that has no training (or no evaluation) data raises a one-line
:class:`~harness.data.errors.DataError` when asked for it. Loading is lazy: the
constructor only records options, so ``harness validate`` stays cheap.
"""

from __future__ import annotations

from pathlib import Path

from harness.data import conversations, drivebench
from harness.data.blank import TEXT_ONLY
from harness.data.errors import DataError
from harness.data.synthetic.questions import DRIVEBENCH_TEMPLATES
from harness.data.synthetic.writer import DEFAULT_CORRUPTIONS, SynthConfig, ensure, setting_file
from harness.data.types import EvalItem, TrainSample
from harness.paths import synthetic_dir
from harness.registry import DATASETS, did_you_mean


class Dataset:
    """Base of the registered datasets (the registry refuses a class that does not subclass it)."""

    #: Enters every run's identity: bump it when a change alters the samples a dataset gives.
    version: int = 1

    def settings(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def train_samples(self) -> list[TrainSample]:  # pragma: no cover - abstract
        raise NotImplementedError

    def eval_items(self, setting: str = "clean") -> list[EvalItem]:  # pragma: no cover - abstract
        raise NotImplementedError


def _unknown_setting(dataset: str, setting: str, known: list[str]) -> DataError:
    return DataError(
        f"dataset '{dataset}' has no setting '{setting}'{did_you_mean(setting, known)} (known: {', '.join(known)})"
    )


@DATASETS.register("drivebench")
class DriveBenchDataset(Dataset):
    """Official DriveBench JSON files (clean, text-only, corruption files); also trains on answers."""

    def __init__(self, path: str, data_root: str | None = None, skip_invalid: bool = False,
                 keep_all_cameras: bool = False, check_images: bool = True,
                 corruption_files: dict[str, str] | None = None, allow_outside_root: bool = False):
        self.path = path
        self.allow_outside_root = allow_outside_root
        self.data_root = data_root
        self.skip_invalid = skip_invalid
        self.keep_all_cameras = keep_all_cameras
        self.check_images = check_images
        self.corruption_files = dict(corruption_files or {})

    def settings(self) -> list[str]:
        return ["clean", TEXT_ONLY, *self.corruption_files]

    def eval_items(self, setting: str = "clean") -> list[EvalItem]:
        options = dict(data_root=self.data_root, skip_invalid=self.skip_invalid,
                       keep_all_cameras=self.keep_all_cameras, check_images=self.check_images,
                       allow_outside_root=self.allow_outside_root)
        if setting == "clean":
            return drivebench.load(self.path, **options)
        if setting == TEXT_ONLY:
            return drivebench.load(self.path, setting=TEXT_ONLY, **options)
        if setting in self.corruption_files:
            return drivebench.load(self.corruption_files[setting], setting=setting, **options)
        raise _unknown_setting("drivebench", setting, self.settings())

    def train_samples(self) -> list[TrainSample]:
        """The clean items with reference answers, as training conversations."""
        return [conversations.to_train_sample(item) for item in self.eval_items("clean") if item.answer.strip()]


@DATASETS.register("drivekd_conversations")
class DriveKDConversations(Dataset):
    """Training conversations in Drive-KD's format (user/assistant messages, images, question_type)."""

    def __init__(self, path: str, data_root: str | None = None, skip_invalid: bool = False,
                 check_images: bool = True, allow_outside_root: bool = False):
        self.path = path
        self.allow_outside_root = allow_outside_root
        self.data_root = data_root
        self.skip_invalid = skip_invalid
        self.check_images = check_images

    def settings(self) -> list[str]:
        return []

    def train_samples(self) -> list[TrainSample]:
        return conversations.load(self.path, self.data_root, skip_invalid=self.skip_invalid,
                                  check_images=self.check_images, allow_outside_root=self.allow_outside_root)

    def eval_items(self, setting: str = "clean") -> list[EvalItem]:
        raise DataError(f"dataset 'drivekd_conversations' ({Path(self.path).name}) is training data; "
                        "evaluate on a DriveBench-format dataset (drivebench or synthetic)")


@DATASETS.register("synthetic")
class SyntheticDriving(Dataset):
    """Procedural driving scenes with DriveBench questions, built on first use and cached by content."""

    operational = ("root",)  # where the generated files live (their content follows from the rest)

    def __init__(self, seed: int = 0, train: int = 400, eval: int = 160, image_size: int = 96,
                 cameras: int = 1, corruptions: list[str] | str | None = None, severity: int = 3,
                 templates: list[str] | str | None = None, root: str | None = None):
        if isinstance(corruptions, str):  # `--data-option corruptions=fog,low_light` arrives as text
            corruptions = [c.strip() for c in corruptions.split(",") if c.strip()]
        if isinstance(templates, str):
            templates = [t.strip() for t in templates.split(",") if t.strip()]
        self.config = SynthConfig(
            seed=seed, train=train, eval=eval, image_size=image_size, cameras=cameras,
            corruptions=tuple(DEFAULT_CORRUPTIONS if corruptions is None else corruptions), severity=severity,
            templates=tuple(DRIVEBENCH_TEMPLATES if templates is None else templates),
        )
        self.root = Path(root) if root is not None else synthetic_dir() / self.config.digest()

    def build(self) -> dict:
        """Generate the benchmark if it is not on disk yet; returns its manifest."""
        return ensure(self.root, self.config)

    def settings(self) -> list[str]:
        return ["clean", TEXT_ONLY, *self.config.corruptions]

    def eval_items(self, setting: str = "clean") -> list[EvalItem]:
        if setting not in self.settings():
            raise _unknown_setting("synthetic", setting, self.settings())
        self.build()
        return drivebench.load(self.root / setting_file(setting), self.root)

    def train_samples(self) -> list[TrainSample]:
        manifest = self.build()
        return conversations.load(self.root / manifest["files"]["train"], self.root)
