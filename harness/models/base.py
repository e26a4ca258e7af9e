"""The family-adapter interface: what the trainer and evaluator may ask of any VLM family.

A *family* (``internvl3``, ``qwen2_5_vl``) knows how to load its model and
processor (from a hub id, a local folder, the tiny zoo, or as a randomly
initialised real architecture), which token positions hold image features, where
its decoder layers are, and how its own chat template lays out (images, question,
answer). Everything downstream (collation, attention capture, signals) talks to a
:class:`LoadedVLM` and its adapter and never to a concrete transformers class, so
a third family is one new file that subclasses :class:`FamilyAdapter`.
"""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from harness.errors import HarnessError
from harness.models.attention import probabilities, query_key
from harness.registry import FAMILIES, did_you_mean

INITS = ("pretrained", "random")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


class ModelLoadError(HarnessError):
    """A model could not be loaded (unknown scale, missing weights, bad folder)."""


class LazyClass:
    """A class attribute naming ``module:Class``, imported on first access.

    Family modules register at import time; keeping transformers out of that
    import makes ``harness ls`` and ``harness validate`` start in a second.
    """

    def __init__(self, path: str):
        self.path = path

    def __get__(self, obj, owner):
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Scale:
    """One published size of a family: its hub id and the architecture figures.

    ``text``/``vision``/``top`` are keyword arguments for the family's config
    classes, so ``init: random`` can build the real architecture without a download.
    """

    hub_id: str
    text: Mapping[str, Any]
    vision: Mapping[str, Any]
    top: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from, normalised from recipe data.

    Exactly one of ``scale`` (a hub checkpoint by scale name), ``path`` (a local HF
    folder) or ``zoo`` (a tiny-zoo size) is set.
    """

    family: str
    scale: str | None = None
    path: str | None = None
    zoo: str | None = None
    init: str = "pretrained"
    dtype: str = "float32"
    trust_remote_code: bool = False
    seed: int | None = None  # init: random only (the runner fills it from the recipe key)

    @classmethod
    def from_spec(cls, spec: Any) -> "ModelSource":
        """Accept a dict, a pydantic/dataclass recipe object or a ModelSource."""
        if isinstance(spec, ModelSource):
            return spec
        if isinstance(spec, Mapping):
            get = spec.get
        else:
            def get(key, default=None):
                return getattr(spec, key, default)
        family = get("family")
        if not family:
            raise ModelLoadError("a model needs a 'family' (known: " + ", ".join(FAMILIES.names()) + ")")
        source = cls(
            family=str(family),
            scale=None if get("scale") is None else str(get("scale")),
            path=None if get("path") is None else str(get("path")),
            zoo=None if get("zoo") is None else str(get("zoo")),
            init=str(get("init") or "pretrained"),
            dtype=str(get("dtype") or "float32"),
            trust_remote_code=bool(get("trust_remote_code") or False),
            seed=None if get("seed") is None else int(get("seed")),
        )
        given = [k for k in ("scale", "path", "zoo") if getattr(source, k) is not None]
        if len(given) != 1:
            raise ModelLoadError(
                f"model of family '{family}' needs exactly one of scale, path or zoo (got {', '.join(given) or 'none'})"
            )
        if source.init not in INITS:
            raise ModelLoadError(f"model {source.describe()}: init '{source.init}' is not one of {', '.join(INITS)}{did_you_mean(source.init, INITS)}")
        if source.dtype not in DTYPES:
            raise ModelLoadError(f"model {source.describe()}: dtype '{source.dtype}' is not one of {', '.join(DTYPES)}{did_you_mean(source.dtype, list(DTYPES))}")
        if source.init == "random" and source.path is not None:
            raise ModelLoadError(f"model {source.describe()}: init: random needs a scale or zoo size (the architecture to build)")
        if source.init != "random" and source.seed is not None:
            source = replace(source, seed=None)  # weights come from files; a seed would only split identities
        return source

    def describe(self) -> str:
        """A short human name: ``internvl3:1b``, ``internvl3:zoo/student``, ``internvl3:/dir``."""
        if self.scale is not None:
            return f"{self.family}:{self.scale}" + ("(random)" if self.init == "random" else "")
        if self.zoo is not None:
            return f"{self.family}:zoo/{self.zoo}" + ("(random)" if self.init == "random" else "")
        return f"{self.family}:{self.path}"


@dataclass
class LoadedVLM:
    """A loaded model with everything needed to feed it and read its layers.

    ``image_side`` is the square side images are resized to before the processor
    (one tile per image, as in Drive-KD).
    """

    name: str
    adapter: "FamilyAdapter"
    model: nn.Module
    processor: Any
    image_side: int
    source: ModelSource | None = None

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def family(self) -> str:
        return self.adapter.name

    def decoder_layers(self) -> nn.ModuleList:
        return self.adapter.decoder_layers(self.model)

    @property
    def depth(self) -> int:
        return len(self.decoder_layers())

    def image_token_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.adapter.image_token_mask(self.model.config, input_ids)


class FamilyAdapter:
    """Base class of family adapters; subclasses fill the class attributes and hooks.

    Interface used by the rest of the harness:

    - :meth:`load` (``ModelSource`` → :class:`LoadedVLM`), :meth:`scale_names`;
    - :meth:`image_token_mask` (positions holding image features, bool [B, S]);
    - :meth:`decoder_layers` (the language model's ``nn.ModuleList``) and
      :meth:`attention_probabilities` (how one layer's attention is recomputed);
    - ``token_input_keys`` / ``image_input_keys`` (the processor outputs collation keeps)
      and ``processor_class`` (the family's processor subclass);
    - :meth:`messages` / :meth:`prompt_text` (the chat template for
      (images, question, answer)); collation in :mod:`harness.data.collate` builds
      labels and generation inputs from these.
    """

    name: ClassVar[str]
    scales: ClassVar[dict[str, Scale]]
    zoo_scales: ClassVar[dict[str, Scale]] = {}
    model_class: ClassVar[type]
    processor_class: ClassVar[type]
    default_image_side: ClassVar[int] = 448
    #: Processor outputs with one entry per token (padded per sample) and per image (concatenated).
    token_input_keys: ClassVar[tuple[str, ...]] = ("input_ids", "attention_mask")
    image_input_keys: ClassVar[tuple[str, ...]] = ("pixel_values",)
    #: Enters every run's identity: bump it when a change alters what the family computes.
    version: ClassVar[int] = 1

    # -- loading -------------------------------------------------------------------
    @classmethod
    def scale_names(cls) -> list[str]:
        return list(cls.scales)

    @classmethod
    def zoo_sizes(cls) -> list[str]:
        """Tiny-zoo size names (``student``, ``teacher_s``, ``teacher_l``)."""
        return list(getattr(cls, "zoo_scales", {}) or {})

    @classmethod
    def scale(cls, name: str) -> Scale:
        try:
            return cls.scales[name]
        except KeyError:
            raise ModelLoadError(
                f"{cls.name}: unknown scale '{name}'{did_you_mean(name, list(cls.scales))} (known: {', '.join(cls.scales)})"
            ) from None

    def load(self, source: ModelSource, *, attn_implementation: str = "sdpa",
             device: torch.device | str | None = None, folder: str | None = None) -> LoadedVLM:
        """Load the model and processor a source names (see :class:`ModelSource`), onto ``device``
        (weights go there directly; ``None`` leaves them on the CPU).

        A built zoo source comes with the ``folder`` the loader (:func:`harness.models.loader.load_model`)
        built it in; the adapter itself never builds zoo models.
        """
        dtype = DTYPES[source.dtype]
        device = None if device is None else torch.device(device)
        if source.zoo is not None:
            if source.init == "random":
                return self._random(source, self.zoo_scales[source.zoo], torch.float32 if dtype == "auto" else dtype,
                                    attn_implementation, device)
            if folder is None:
                raise ModelLoadError(f"model {source.describe()}: a zoo model is loaded through harness.models.load_model")
            return self._from_folder(str(folder), source, dtype, attn_implementation, device, local=True)
        if source.path is not None:
            folder = Path(source.path).expanduser()
            if not folder.is_dir():
                raise ModelLoadError(f"model {source.describe()}: path '{folder}' is not a folder")
            check_model_folder(folder, source.describe())
            return self._from_folder(str(folder), source, dtype, attn_implementation, device, local=True)
        scale = self.scale(source.scale)
        if source.init == "random":
            return self._random(source, scale, torch.float32 if dtype == "auto" else dtype, attn_implementation, device)
        return self._from_folder(scale.hub_id, source, dtype, attn_implementation, device, local=False)

    def _from_folder(self, where: str, source: ModelSource, dtype, attn: str, device, *, local: bool) -> LoadedVLM:
        """The one from_pretrained path shared by hub ids, local folders and the zoo."""
        kwargs = {"trust_remote_code": source.trust_remote_code}
        placed = {} if device is None or device.type == "cpu" else {"device_map": {"": str(device)}}
        if local:
            self.check_folder(where)
        else:
            require_hub_files(where, source)
        try:
            with quiet_progress():
                processor = self.processor_class.from_pretrained(where, **kwargs)
                model = self.model_class.from_pretrained(where, dtype=dtype, attn_implementation=attn, **placed, **kwargs)
        except (OSError, ValueError) as exc:
            if local:
                raise ModelLoadError(f"model {source.describe()}: cannot load '{where}' as a {self.name} checkpoint: {_one_line(exc)}") from exc
            raise ModelLoadError(_offline_message(where, source, _one_line(exc))) from exc
        model.eval()
        return LoadedVLM(
            name=source.describe(), adapter=self, model=model, processor=processor,
            image_side=self.image_side_of(model.config, processor), source=source,
        )

    def _random(self, source: ModelSource, scale: Scale, dtype, attn: str, device=None) -> LoadedVLM:
        """The real architecture of ``scale`` with random weights and an offline processor.

        The processor is the zoo tokenizer with the real image layout, and the
        config's special-token ids are pointed at that tokenizer, so the model runs
        end to end (text is meaningless; speed and memory are real). The weights
        are drawn from ``source.seed`` (the runner derives it from the recipe key,
        so a random teacher differs from a random student of its scale), on
        ``device`` directly.
        """
        processor = self.offline_processor(scale=scale)
        config = self.build_config(scale, processor)
        device = device or torch.device("cpu")
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), device:
            torch.manual_seed(0 if source.seed is None else source.seed)
            model = self.model_class._from_config(config, dtype=dtype, attn_implementation=attn)
        model.eval()
        return LoadedVLM(name=source.describe(), adapter=self, model=model, processor=processor,
                         image_side=self.image_side_of(config, processor), source=source)

    def meta_model(self, source: ModelSource) -> nn.Module:
        """The architecture ``source`` names on the meta device: shapes and dtypes, no weights, no download.

        A scale builds its config from the family's table; a folder or zoo model reads its
        ``config.json``. ``harness plan`` sizes memory from it.
        """
        dtype = DTYPES[source.dtype]
        dtype = torch.float32 if dtype == "auto" else dtype
        if source.scale is not None or source.zoo is not None:
            # a zoo model is built from exactly this table entry, so its shapes need no built folder
            scale = self.scale(source.scale) if source.scale is not None else self.zoo_scales[source.zoo]
            config = self.build_config(scale, self.offline_processor(scale=scale))
        else:
            from transformers import AutoConfig

            where = str(Path(source.path).expanduser())
            try:
                config = AutoConfig.from_pretrained(where, trust_remote_code=source.trust_remote_code)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"model {source.describe()}: cannot read the config of '{where}': {_one_line(exc)}") from exc
        with torch.device("meta"):
            return self.model_class._from_config(config, dtype=dtype)

    # -- family hooks (subclasses implement) ----------------------------------------
    def check_folder(self, folder: str) -> None:
        """Refuse (ModelLoadError) a local folder this family recognises but cannot load as is."""

    def build_config(self, scale: Scale, processor):  # pragma: no cover - abstract
        """The transformers config for ``scale`` with special-token ids from ``processor``."""
        raise NotImplementedError

    def offline_processor(self, *, scale: Scale):  # pragma: no cover - abstract
        """A processor built without downloads (zoo tokenizer, family chat template, the scale's image layout)."""
        raise NotImplementedError

    def image_side_of(self, config, processor) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def image_token_ids(self, config) -> tuple[int, ...]:  # pragma: no cover - abstract
        """Token ids whose positions carry image features."""
        raise NotImplementedError

    def image_token_grids(self, config, inputs: Mapping[str, Any]) -> list[tuple[int, int]]:  # pragma: no cover
        """(rows, columns) of each image's tokens in a batch, in the order the images were given.

        An image's tokens are one contiguous run in the sequence, row-major over this grid
        (token ``r * columns + c`` covers the image's row band ``r`` and column band ``c``),
        which is how a box in the image maps to its image tokens (:mod:`harness.eval.mechanism`).
        """
        raise NotImplementedError

    def decoder_layers(self, model: nn.Module) -> nn.ModuleList:
        return model.model.language_model.layers

    def query_key(self, module: nn.Module, hidden_states: torch.Tensor, position_embeddings):
        """Rotary-embedded queries and keys [B, H, S, D] of one decoder layer's ``self_attn``,
        recomputed from its own parts (what attention capture reads). The default is for
        Qwen2-style layers; a family whose attention differs (Qwen3's q/k norms) overrides it."""
        return query_key(module, hidden_states, position_embeddings)

    def attention_probabilities(self, module: nn.Module, hidden_states: torch.Tensor, position_embeddings,
                                attention_mask) -> torch.Tensor:
        """Per-head attention probabilities [B, H, q, k] of one layer, from :meth:`query_key`."""
        query, key = self.query_key(module, hidden_states, position_embeddings)
        return probabilities(query, key, module.scaling, attention_mask)

    # -- shared behaviour ----------------------------------------------------------
    def image_token_mask(self, config, input_ids: torch.Tensor) -> torch.Tensor:
        """Bool [B, S]: True where the token is an image-feature placeholder."""
        mask = torch.zeros_like(input_ids, dtype=torch.bool)
        for token_id in self.image_token_ids(config):
            mask |= input_ids == token_id
        return mask

    def messages(self, n_images: int, question: str, answer: str | None = None) -> list[dict]:
        """HF chat messages: one user turn (images first, then text), optional assistant turn."""
        content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": question}]
        messages = [{"role": "user", "content": content}]
        if answer is not None:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        return messages

    def prompt_text(self, processor, n_images: int, question: str, answer: str | None = None) -> str:
        """The chat-template text; with no answer it ends with the generation prompt."""
        return processor.apply_chat_template(
            self.messages(n_images, question, answer), tokenize=False, add_generation_prompt=answer is None
        )


HUB_PROBE_SECONDS = 5.0


def _offline_message(hub_id: str, source: ModelSource, why: str) -> str:
    return (f"model {source.describe()}: weights for hub id '{hub_id}' are not available offline ({why}); "
            f"download them (huggingface-cli download {hub_id} --local-dir DIR) and give 'path: DIR' instead of "
            f"'scale: {source.scale}', or use 'init: random' for speed/memory runs")


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the Hugging Face endpoint (``$HF_ENDPOINT``) opens within ``timeout``.

    Run in a thread joined with a deadline, so a resolver that hangs cannot hold
    the caller longer than ``timeout``.
    """
    import socket
    import threading
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    result: list[bool] = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(result and result[0])


def require_hub_files(hub_id: str, source: ModelSource) -> None:
    """Fail at once, with the one-line advice, when ``hub_id`` is neither cached nor reachable.

    Without this check ``from_pretrained`` retries the hub for minutes on a machine
    with no network before it gives up.
    """
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(hub_id, "config.json"), str):
        return  # in the local cache; from_pretrained falls back to it
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ModelLoadError(_offline_message(hub_id, source, "HF_HUB_OFFLINE is set and it is not in the local cache"))
    if not hub_reachable():
        endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
        raise ModelLoadError(_offline_message(hub_id, source, f"not in the local cache and {endpoint} is not reachable"))


@contextmanager
def quiet_progress():
    """Silence transformers' progress bars (loading/saving tiny models many times is noise)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("…" if len(text) > 300 else "")


def check_model_folder(folder: Path, what: str) -> None:
    """Refuse a local model folder that is incomplete or (when the harness built it) changed.

    Without ``config.json`` transformers would build the default full-size
    architecture (tens of GB) instead of failing; a folder with ``checksums.json``
    (a zoo or fine-tuned model) must still match it.
    """
    from harness.integrity import CHECKSUMS, CorruptArtifact, verify_checksums

    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model {what}: {folder / 'config.json'} is missing (an incomplete model folder)")
    if (folder / CHECKSUMS).is_file():
        try:
            verify_checksums(folder, what="model folder")
        except CorruptArtifact as exc:
            raise ModelLoadError(f"model {what}: {exc}") from None
