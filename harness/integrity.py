"""Content hashes: of data (:func:`content_hash`) and of the artifacts the harness builds once and reuses.

:func:`content_hash` (SHA-256 of :func:`canonical_json`) is the one hash of a
JSON-serialisable value: a recipe's configuration (which names run folders), an
evaluation's settings, a cached artefact's inputs, an ablation's fingerprint.
:func:`folder_digest` is the content of a model folder (its config and weight files), and
:func:`source_identity` is how every identity sees a model named by ``path``: by that
content, so the same weights in another checkout are the same model and weights rebuilt
in place are a different one.

Checkpoints, teacher-target stores, fine-tuned and zoo models and synthetic
benchmarks are written once and read by every later run. A flipped byte or a
truncated file in one of them would otherwise be read without complaint (a run
would silently train on different weights), so each folder carries
``checksums.json`` — the SHA-256 of every file in it — written when the folder is
built and checked before it is used. A folder that fails the check is rebuilt
when it can be, or refused with an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

CHECKSUMS = "checksums.json"
_CHUNK = 1 << 20
FULL_HASH_LIMIT = 256 << 20  # model files above this are hashed by size + sampled blocks
MODEL_FILES = (".safetensors", ".bin", ".json", ".model", ".txt", ".jinja")


def canonical_json(data: Any) -> str:
    """Key-order- and formatting-independent serialisation used for hashing."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(data: Any) -> str:
    """sha256 hex of :func:`canonical_json`: the one content hash of the harness."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


class CorruptArtifact(HarnessError):
    """A built artifact whose content no longer matches the checksum written with it."""


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's size and bytes; above :data:`FULL_HASH_LIMIT`, of its size and 64
    sampled 1 MiB blocks, so an 8B checkpoint is not read whole each time a recipe loads."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as handle:
        if size <= FULL_HASH_LIMIT:
            while chunk := handle.read(_CHUNK):
                h.update(chunk)
        else:
            for offset in range(0, size, max(_CHUNK, size // 64)):
                handle.seek(offset)
                h.update(handle.read(_CHUNK))
    return h.hexdigest()


_FOLDER_DIGESTS: dict[tuple, str] = {}


def folder_digest(folder: str | os.PathLike) -> str:
    """Hash of a model folder's config and weight files (:data:`MODEL_FILES`), by relative name
    and :func:`file_digest`; remembered in-process while no file's size or mtime changes."""
    folder = Path(folder)
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in MODEL_FILES]
    stats = [(p.relative_to(folder).as_posix(), p.stat()) for p in files]
    key = (str(folder.resolve()), tuple((rel, st.st_size, st.st_mtime_ns) for rel, st in stats))
    if key not in _FOLDER_DIGESTS:
        _FOLDER_DIGESTS[key] = content_hash([(rel, file_digest(p)) for (rel, _), p in zip(stats, files)])
    return _FOLDER_DIGESTS[key]


def source_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """A model's load spec as identities see it: a ``path`` that is a folder becomes
    ``{"folder": folder_digest}``. Run and evaluation identities use it, so a run is not
    trained again from another checkout of the same teacher, and is not reused when the
    folder's weights were rebuilt in place. A path that is not (yet) a folder stays as written."""
    path = spec.get("path")
    if not isinstance(path, str) or not Path(path).expanduser().is_dir():
        return spec
    return {**spec, "path": {"folder": folder_digest(Path(path).expanduser())}}


def _files(folder: Path) -> list[str]:
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and rel != CHECKSUMS and not any(
            part.startswith(".") for part in Path(rel).parts
        ):
            out.append(rel)
    return out


def write_checksums(folder: str | os.PathLike) -> dict[str, str]:
    """Record the SHA-256 of every (non-hidden) file under ``folder``; returns them."""
    folder = Path(folder)
    sums = {rel: sha256_file(folder / rel) for rel in _files(folder)}
    text = json.dumps({"algorithm": "sha256", "files": sums}, indent=1, sort_keys=True) + "\n"
    (folder / CHECKSUMS).write_text(text, encoding="utf-8")
    return sums


def verify_checksums(folder: str | os.PathLike, *, what: str = "artifact") -> None:
    """Raise :class:`CorruptArtifact` naming the first file that is missing, changed or unlisted."""
    folder = Path(folder)
    listing = folder / CHECKSUMS
    try:
        sums = json.loads(listing.read_text(encoding="utf-8"))["files"]
        if not isinstance(sums, dict):
            raise TypeError
    except FileNotFoundError:
        raise CorruptArtifact(f"{listing}: the {what} has no checksum file (incomplete or built by an older harness)") from None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise CorruptArtifact(f"{listing}: the {what}'s checksum file is unreadable") from None
    for rel, expected in sorted(sums.items()):
        path = folder / rel
        if not path.is_file():
            raise CorruptArtifact(f"{path}: missing from the {what} (it is incomplete)")
        if sha256_file(path) != expected:
            raise CorruptArtifact(f"{path}: the {what} is corrupt (its checksum does not match)")
    extra = sorted(set(_files(folder)) - set(sums))
    if extra:
        raise CorruptArtifact(f"{folder / extra[0]}: not part of the {what} as built (it was changed)")


def is_intact(folder: str | os.PathLike) -> bool:
    """True when ``folder`` exists and passes :func:`verify_checksums`."""
    try:
        verify_checksums(folder)
    except CorruptArtifact:
        return False
    return True


def remove_stale_builds(final: str | os.PathLike) -> None:
    """Remove the temporary ``.<name>.*`` siblings that killed builds of ``final`` left behind.

    Call it only while holding the build lock of ``final``: then no living
    process is still writing one of them.
    """
    import shutil

    final = Path(final)
    if final.parent.is_dir():
        for p in final.parent.glob(f".{final.name}.*"):
            if p.is_dir() and not p.name.endswith(".lock"):
                shutil.rmtree(p, ignore_errors=True)
