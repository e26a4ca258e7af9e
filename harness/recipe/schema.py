"""The recipe schema: what a recipe may say, with defaults and one-line docs.

Recipes are plain data. This module only describes their shape; registry names
and component options are checked afterwards by :mod:`harness.recipe.components`
against what is actually registered, so a plugin's options are validated the same
way as a built-in's. docs/recipes.md is generated from these classes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.data.types import CAPABILITIES


def folder_name(value: str, *, what: str = "folder name", forbidden: str = "/\\ \t\n") -> str:
    """``value`` if it can name a folder (no separators, whitespace or leading dot), else ValueError."""
    if not value or any(ch in value for ch in forbidden) or value.startswith("."):
        raise ValueError(f"'{value}' is not usable as a {what} (no spaces, slashes or leading dot)")
    return value


class Strict(BaseModel):
    """A block whose unknown keys are errors (so a typo never passes silently)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class Component(BaseModel):
    """A registered component by ``name`` plus its options (checked against its signature).

    Written either as a bare name (``loss: mse``) or as a mapping
    (``loss: {name: kl, temperature: 2.0}``).
    """

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="registered name of the component")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        return value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelSpec(Strict):
    """A model: a family plus exactly one of ``scale``, ``path`` or ``zoo``."""

    family: str = Field(description="registered family, e.g. internvl3 or qwen2_5_vl (`harness ls families`)")
    scale: Optional[str] = Field(None, description="a scale of the family's table (e.g. 1b, 8b); loads its hub id")
    path: Optional[str] = Field(None, description="a local Hugging Face folder with the weights")
    zoo: Optional[str] = Field(None, description="a tiny offline zoo model of this family (e.g. student, teacher_s)")
    init: Literal["pretrained", "random"] = Field(
        "pretrained", description="random: the real architecture with random weights (benchmarks; no download)"
    )
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field("float32", description="weights' dtype")
    trust_remote_code: bool = Field(False, description="allow the checkpoint's own code (off unless set)")
    seed: Optional[int] = Field(
        None, description="init: random only: the weights' seed (default: derived from the model's recipe key)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> "ModelSpec":
        given = [k for k in ("scale", "path", "zoo") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'scale', 'path' or 'zoo'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class SFTSpec(Strict):
    """Supervised fine-tuning of a model before the run: a tiny-zoo teacher before it teaches, or a
    tiny-zoo student "pretrained" before it is distilled (cached by content hash)."""

    epochs: int = Field(1, ge=1, description="passes over the training split")
    max_steps: Optional[int] = Field(None, ge=1, description="stop after this many optimizer steps")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate")
    batch_size: int = Field(8, ge=1, description="samples per optimizer step")
    grounding_steps: int = Field(
        0, ge=0, description="first train this many steps on each answer's `Environment:` line alone (docs/grounding.md)"
    )
    grounding_mix: float = Field(
        0.0, ge=0, le=1, description="share of such Environment-line samples mixed into the main fine-tuning"
    )
    data: Optional[Component] = Field(
        None, description="dataset the model is fine-tuned on (default: the run's data.train)"
    )
    seed: Optional[int] = Field(
        None, ge=0, lt=2**32, description="seed of the fine-tuning (default: the run's seed); fix it so every run seed shares one model"
    )


class StudentSpec(ModelSpec):
    """The trained model; a tiny-zoo student may first be fine-tuned (``sft``), standing in for
    the pretrained generalist a real student (InternVL3-1B, …) already is."""

    sft: Optional[SFTSpec] = Field(None, description="fine-tune the student first, before distillation (cached)")


class ControlSpec(Strict):
    """A negative control: the teacher's attention maps with each image's columns permuted per sample.

    Same maps, wrong places (docs/controls.md): rows, row sums and non-image columns are kept.
    """

    type: Literal["permute_image_columns"] = Field(
        description="permute_image_columns: within each image of a sample, a derangement of its tokens' columns"
    )
    seed: int = Field(0, ge=0, lt=2**32, description="draws the permutations (with each sample's id and image index)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value


class TeacherSpec(ModelSpec):
    """A frozen teacher; tiny-zoo teachers may first be fine-tuned (``sft``)."""

    sft: Optional[SFTSpec] = Field(None, description="fine-tune this teacher on the training split first")
    control: Optional[ControlSpec] = Field(
        None, description="make this teacher a negative control: its targets' image columns permuted (docs/controls.md)"
    )
    device: Optional[str] = Field(
        None, description="where this teacher runs: cpu, cuda or cuda:N (default: as `placement` says)"
    )


class SignalSpec(Strict):
    """What a teacher objective distils: an attention map (or hidden states / logits) of some layers.

    Any other key is an option of the signal kind, checked against it like a component's
    (`text_to_vision` takes `rows: after_image | all`; `harness ls signals`).
    """

    model_config = ConfigDict(extra="allow", validate_default=True)
    other_keys: ClassVar[str] = ("options of the signal kind (`text_to_vision`: `rows`, `after_image` (default: rows "
                                 "before the sample's first image token left out) or `all` (every non-image row, as "
                                 "the released loss; the paper recipes))")

    type: str = Field(description="registered signal: text_to_vision, full, … (`harness ls signals`)")
    layers: Any = Field("first", description="layer spec: first, penultimate, last, an int, a list or {start, end}")
    matching: str = Field("none", description="student↔teacher layer matching: none, group, uniform, pairs")
    pairs: Optional[list[tuple[int, int]]] = Field(None, description="explicit [student, teacher] layer pairs (matching: pairs)")
    heads: Literal["mean"] = Field("mean", description="how heads are reduced (student and teacher head counts may differ)")

    @model_validator(mode="before")
    @classmethod
    def _attention_alias(cls, value: Any) -> Any:
        # `attention: full` reads better in a recipe than `type: full`; both are accepted.
        if isinstance(value, dict) and "attention" in value:
            value = dict(value)
            if "type" in value:
                raise ValueError("give either 'attention' or 'type', not both")
            value["type"] = value.pop("attention")
        return value

    @property
    def options(self) -> dict[str, Any]:
        """The signal kind's options (every key that is not a field above)."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _pairs_need_matching(self) -> "SignalSpec":
        if self.matching == "pairs" and not self.pairs:
            raise ValueError("matching 'pairs' needs a 'pairs' list of [student, teacher] layers")
        if self.pairs and self.matching != "pairs":
            raise ValueError("'pairs' is only used with matching: pairs")
        return self


class ObjectiveSpec(Strict):
    """One objective: ``ce`` (the hard-label loss) or a teacher signal with its loss."""

    weight: float = Field(1.0, ge=0, description="static weight of this objective")
    teacher: Optional[str] = Field(None, description="key in `teachers`")
    signal: Optional[SignalSpec] = Field(None, description="what to distil from the teacher")
    loss: Optional[Component] = Field(None, description="registered loss (`harness ls losses`)")
    capability: Optional[str] = Field(
        None, description="capability whose mixing column scales this objective (default: the objective's name)"
    )


class TrainData(Component):
    """The training dataset, plus which capabilities of it to train on (any dataset)."""

    capabilities: Optional[list[str]] = Field(
        None, description="train only on samples of these capabilities (Table 3's single-teacher rows: one)"
    )

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value):
        if value is None:
            return value
        if not value:
            raise ValueError("capabilities: give at least one of " + ", ".join(CAPABILITIES))
        for cap in value:
            if cap not in CAPABILITIES:
                raise ValueError(f"capabilities: '{cap}' is not a capability ({', '.join(CAPABILITIES)})")
        return list(dict.fromkeys(value))


class DataSpec(Strict):
    """Training and evaluation data: registered datasets with their options."""

    train: Optional[TrainData] = Field(None, description="training dataset (`harness ls datasets`)")
    eval: Optional[Component] = Field(None, description="evaluation dataset (DriveBench format)")
    allow_eval_overlap: bool = Field(
        False, description="train even on samples whose frame tokens are in the evaluation data (refused by default)"
    )


class TrainSpec(Strict):
    """Optimiser, schedule and loop settings (Drive-KD's code defaults)."""

    epochs: int = Field(1, ge=1, description="passes over the training data")
    max_steps: Optional[int] = Field(None, ge=1, description="stop after this many optimizer steps")
    lr: float = Field(5e-5, gt=0, description="AdamW learning rate")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    batch_size: int = Field(1, ge=1, description="samples per micro-batch")
    grad_accum: int = Field(4, ge=1, description="micro-batches per optimizer step")
    schedule: Literal["constant", "linear", "cosine"] = Field(
        "linear", description="learning-rate schedule (Drive-KD's released code runs constant: docs/reproducing.md)"
    )
    warmup_ratio: float = Field(0.0, ge=0, le=1, description="fraction of steps of linear warm-up")
    accum_reduction: Literal["sum", "mean"] = Field(
        "sum", description="micro-batch losses of a step: summed, or each × 1/grad_accum (mean: the released code)"
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="autocast precision (fp16 is refused: no loss scaler; use bf16 as the released code does)"
    )
    max_grad_norm: Optional[float] = Field(None, gt=0, description="clip the combined gradient's norm")
    combine_per: Literal["micro_batch", "step"] = Field(
        "micro_batch", description="combine gradients per micro-batch (official) or per optimizer step"
    )
    checkpoint_every: int = Field(0, ge=0, description="optimizer steps between checkpoints (0: only at the end)")
    nan_policy: Literal["error", "skip"] = Field(
        "error", description="on NaN/Inf in an objective or gradient: stop naming it, or skip the micro-batch (a gradient: the step)"
    )
    on_oom: Literal["error", "skip"] = Field(
        "error", description="on out-of-memory: stop naming the samples, sequence length and step, or skip the micro-batch"
    )
    max_skipped: float = Field(
        0.01, ge=0, le=1, description="stop once more than this fraction of the planned micro-batches was skipped"
    )
    log_every: int = Field(1, ge=1, description="optimizer steps between metrics.jsonl lines (and tracker points)")
    grad_norms_every: int = Field(
        0, ge=0,
        description="with a combiner that forms no Gramian (sum): log each objective's gradient norm at the log "
        "steps that are multiples of this (one extra backward per objective there, the update unchanged; 0: never). "
        "Combiners with a Gramian log the norms at every log step at no cost",
    )
    trackers: list[Component] = Field(
        [],
        description="experiment trackers (accelerate's: tensorboard, wandb, mlflow, trackio, …), each a name or "
        "{name, project, logging_dir, …}; not part of the run's identity (docs/tracking.md)",
    )
    gradient_checkpointing: bool = Field(
        False, description="recompute the student's layer activations in backward (less memory, captured maps exact)"
    )
    num_workers: int = Field(
        0, ge=0, description="DataLoader worker processes that decode and collate micro-batches ahead (0: in the loop)"
    )


    @field_validator("precision")
    @classmethod
    def _no_unscaled_fp16(cls, value: str) -> str:
        if value == "fp16":
            raise ValueError(
                "fp16 is refused: nothing scales the loss, so small gradients underflow to zero; "
                "use bf16 (what Drive-KD's code trains in) or fp32"
            )
        return value


class CacheSpec(Strict):
    """Where teacher targets come from."""

    mode: Literal["disk", "live"] = Field("disk", description="disk: computed once and reused; live: on the fly")
    dir: Optional[str] = Field(None, description="cache folder (default: under the harness cache)")


class EvalSpec(Strict):
    """Evaluation after training."""

    enabled: bool = Field(True, description="evaluate the trained student")
    settings: list[str] = Field(["clean"], description="clean, text_only, or corruption setting names")
    judge: Component = Field(Component(name="rubric"), description="registered judge (`harness ls judges`)")
    batch_size: int = Field(8, ge=1, description="generation batch size")
    max_new_tokens: int = Field(64, ge=1, description="generation length limit")
    max_items: Optional[int] = Field(None, ge=1, description="evaluate only the first N items")
    system_prompt: str = Field(
        "none",
        description="brief before each question: none (the bare question, as in training), "
        "drivebench (our DriveBench-style brief), or a text file",
    )


class Recipe(Strict):
    """A whole run: models, data, objectives, how their gradients combine, training, evaluation."""

    name: str = Field(description="names the run directory results/runs/<name>/")
    description: str = Field("", description="free text (not hashed)")
    seed: int = Field(42, ge=0, lt=2**32, description="seed for python, numpy, torch and the combiner's generator")
    student: StudentSpec = Field(description="the model being trained")
    teachers: dict[str, TeacherSpec] = Field({}, description="frozen teachers by key")
    placement: Literal["same", "spread"] = Field(
        "same",
        description="teachers without a `device`: same (the student's device) or spread (over the node's other GPUs)",
    )
    data: DataSpec = Field(DataSpec(), description="training and evaluation data")
    objectives: dict[str, ObjectiveSpec] = Field(
        {"ce": ObjectiveSpec()}, description="objectives by name; `ce` is the hard-label loss"
    )
    mixing: Optional[dict[str, dict[str, float]]] = Field(
        None,
        description="capability mixing matrix: sample capability → objective capability → factor "
        "(default: Drive-KD's 0.8 own / 0.1 others when teacher objectives exist)",
    )
    combiner: Component = Field(Component(name="sum"), description="gradient combiner (`harness ls combiners`)")
    reweighting: Optional[Component] = Field(None, description="online objective reweighting (`harness ls reweightings`)")
    train: TrainSpec = Field(TrainSpec(), description="optimiser and loop")
    cache: CacheSpec = Field(CacheSpec(), description="teacher-target cache")
    eval: EvalSpec = Field(EvalSpec(), description="evaluation after training")
    versions: Optional[dict[str, dict[str, int]]] = Field(
        None,
        description="kind → component → version the recipe was resolved with (filled in; a recipe that "
        "gives a version the code no longer has is refused)",
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        return folder_name(value)

    @field_validator("mixing")
    @classmethod
    def _mixing_keys(cls, value):
        if value is None:
            return value
        for row, cols in value.items():
            if row not in CAPABILITIES:
                raise ValueError(f"mixing row '{row}' is not a capability ({', '.join(CAPABILITIES)})")
            for col, factor in cols.items():
                if factor < 0:
                    raise ValueError(f"mixing.{row}.{col} must be >= 0")
        return value
