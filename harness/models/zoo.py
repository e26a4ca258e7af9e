"""The tiny offline zoo: deterministic small models of every family, saved as HF folders.

Tests, the demo and CPU experiments need real InternVL3 / Qwen2.5-VL
architectures (same attention, rotary, image-token layout, processors) without
any download. The zoo builds them from the ``zoo_scales`` table of each family
with fixed seeds, saves each with ``save_pretrained`` under
``zoo_dir()/<family>/<size>/`` and is loaded back through the very same
``from_pretrained`` path as a hub checkpoint. Sizes of one family share the
tokenizer, processor and vision layout (as InternVL3 1B/8B do) and differ in
depth, width and head count.

Building is automatic on first use, guarded by a file lock so two processes never
build the same folder at once; a stamp file records what was built, so a change
of the size table triggers a rebuild, and ``checksums.json`` the content of every
file, so a damaged or incomplete folder is rebuilt too.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import torch

from harness.errors import HarnessError
from harness.files import atomic_folder
from harness.integrity import content_hash, is_intact, remove_stale_builds, write_checksums
from harness.locks import waiting_lock
from harness.models.base import quiet_progress
from harness.paths import zoo_dir
from harness.registry import did_you_mean

ZOO_VERSION = 1
STAMP = "harness_zoo.json"


def zoo_sizes(family: str) -> list[str]:
    from harness.models.loader import get_adapter

    return list(get_adapter(family).zoo_scales)


def zoo_families() -> list[str]:
    import harness.models  # noqa: F401
    from harness.registry import FAMILIES

    return [name for name in FAMILIES.names() if getattr(FAMILIES.get(name), "zoo_scales", None)]


def model_folder(family: str, size: str) -> Path:
    return zoo_dir() / family / size


def _fingerprint(family: str, size: str) -> str:
    """Hash of everything that shapes the built model (its scale entry + version)."""
    from harness.models.loader import get_adapter

    adapter = get_adapter(family)
    scale = adapter.zoo_scales[size]
    return content_hash({"v": ZOO_VERSION, "family": family, "size": size, "text": scale.text,
                         "vision": scale.vision, "top": scale.top})[:16]


def _is_current(folder: Path, fingerprint: str) -> bool:
    """Built from this size table, and every file as it was written (checksums)."""
    try:
        stamped = json.loads((folder / STAMP).read_text()).get("fingerprint") == fingerprint
    except (OSError, ValueError):
        return False
    return stamped and is_intact(folder)


def _seed(family: str, size: str) -> int:
    return zlib.crc32(f"{family}/{size}".encode()) & 0x7FFFFFFF


def build_model(family: str, size: str, *, force: bool = False) -> Path:
    """Build one zoo model (no-op when current unless ``force``); returns its folder."""
    from harness.models.loader import get_adapter

    adapter = get_adapter(family)
    if size not in adapter.zoo_scales:
        known = ", ".join(adapter.zoo_scales)
        raise HarnessError(f"zoo: family '{family}' has no size '{size}'{did_you_mean(size, list(adapter.zoo_scales))} (known: {known})")
    folder = model_folder(family, size)
    fingerprint = _fingerprint(family, size)
    if not force and _is_current(folder, fingerprint):
        return folder
    with waiting_lock(folder.parent / f".{size}.lock"):
        if not force and _is_current(folder, fingerprint):  # another process built it meanwhile
            return folder
        remove_stale_builds(folder)
        scale = adapter.zoo_scales[size]
        processor = adapter.offline_processor(scale=scale)
        config = adapter.build_config(scale, processor)
        with quiet_progress(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(_seed(family, size))
            model = adapter.model_class._from_config(config, dtype=torch.float32)
            with atomic_folder(folder) as tmp:
                model.save_pretrained(tmp)
                processor.save_pretrained(tmp)
                (tmp / STAMP).write_text(json.dumps({"family": family, "size": size, "fingerprint": fingerprint,
                                                     "version": ZOO_VERSION}, indent=1) + "\n")
                write_checksums(tmp)
    return folder


def build_zoo(*, force: bool = False, families: list[str] | None = None) -> list[Path]:
    """Build every size of every family (or of ``families``); returns the folders."""
    out = []
    for family in families or zoo_families():
        for size in zoo_sizes(family):
            out.append(build_model(family, size, force=force))
    return out


def ensure_zoo_model(family: str, size: str) -> Path:
    """The folder of a zoo model, building it first if missing or stale."""
    return build_model(family, size, force=False)


def list_zoo() -> list[dict]:
    """One row per zoo model: family, size, built?, folder and architecture figures."""
    from harness.models.loader import get_adapter

    rows = []
    for family in zoo_families():
        adapter = get_adapter(family)
        for size, scale in adapter.zoo_scales.items():
            folder = model_folder(family, size)
            rows.append({
                "family": family, "size": size,
                "built": _is_current(folder, _fingerprint(family, size)),
                "layers": scale.text["num_hidden_layers"], "hidden": scale.text["hidden_size"],
                "heads": scale.text["num_attention_heads"], "kv_heads": scale.text["num_key_value_heads"],
                "folder": str(folder),
            })
    return rows
