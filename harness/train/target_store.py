"""On-disk storage of teacher targets: safetensors shards plus a JSON index.

Every store carries ``checksums.json`` (:mod:`harness.integrity`), written at
commit and checked when the store is opened, so a flipped byte or a truncated shard
is found before training reads it; the cache then rebuilds the store.

The store is content-addressed: its folder is named by a hash of everything the
targets depend on (teacher weights, data, prompt template, signal), so every
epoch, seed and sweep trial that shares them reads the same files. A store is
built in a temporary folder and renamed into place when complete; a lock file
keeps two processes from building the same store at once (the second waits and
then reads). Targets are float16, as head-mean attention maps need no more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from harness.files import StagedFolder
from harness.integrity import is_intact, verify_checksums, write_checksums

INDEX = "index.json"


class TargetStoreWriter:
    """Appends per-sample target tensors, flushing a shard every ``shard_samples`` samples."""

    def __init__(self, final_dir: Path, *, shard_samples: int = 256, meta: dict | None = None):
        self.final_dir = Path(final_dir)
        self.staged = StagedFolder(self.final_dir)
        self.tmp = self.staged.path
        self.shard_samples = shard_samples
        self.meta = meta or {}
        self.entries: dict[str, str] = {}
        self.buffer: dict[str, torch.Tensor] = {}
        self.buffered: list[str] = []
        self.shards = 0
        self.bytes = 0

    def add(self, sample_id: str, targets: dict[str, torch.Tensor]) -> None:
        if sample_id in self.entries or sample_id in self.buffered:
            raise ValueError(f"sample '{sample_id}' was already stored")
        for name, tensor in targets.items():
            if "/" in name:
                raise ValueError(f"target name '{name}' may not contain '/'")
            t = tensor.detach().to("cpu", torch.float16).contiguous()
            self.buffer[f"{sample_id}/{name}"] = t
            self.bytes += t.numel() * t.element_size()
        self.buffered.append(sample_id)
        if len(self.buffered) >= self.shard_samples:
            self._flush()

    def _flush(self) -> None:
        if not self.buffered:
            return
        shard = f"shard-{self.shards:05d}.safetensors"
        save_file(self.buffer, str(self.tmp / shard))
        for sid in self.buffered:
            self.entries[sid] = shard
        self.shards += 1
        self.buffer, self.buffered = {}, []

    def commit(self) -> Path:
        """Write the index and move the finished store into place."""
        self._flush()
        index = {"entries": self.entries, "shards": self.shards, "bytes": self.bytes, "meta": self.meta}
        (self.tmp / INDEX).write_text(json.dumps(index, sort_keys=True))
        write_checksums(self.tmp)
        # someone else finished first: theirs is identical by construction; a damaged copy is replaced, never read
        self.staged.commit(replace=not is_intact(self.final_dir))
        return self.final_dir

    def abort(self) -> None:
        self.staged.abort()


class TargetStore:
    """Read access to a committed store."""

    def __init__(self, path: Path):
        self.path = Path(path)
        verify_checksums(self.path, what="teacher-target store")
        index = json.loads((self.path / INDEX).read_text())
        self.entries: dict[str, str] = index["entries"]
        self.meta: dict = index.get("meta", {})
        self.bytes: int = index.get("bytes", 0)
        self._handles: dict[str, object] = {}
        self._names: dict[str, list[str]] = {}  # sample id → its tensor names in its shard, filled as shards open

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, sample_id: str) -> dict[str, torch.Tensor]:
        shard = self.entries[sample_id]
        handle = self._handles.get(shard)
        if handle is None:  # index the shard's names once, not on every read (a shard holds 256 samples)
            handle = self._handles[shard] = safe_open(str(self.path / shard), framework="pt")
            for key in handle.keys():
                sid, _, name = key.rpartition("/")
                self._names.setdefault(sid, []).append(name)
        return {name: handle.get_tensor(f"{sample_id}/{name}") for name in self._names.get(sample_id, [])}

    def ids(self) -> Iterator[str]:
        return iter(self.entries)


def is_complete(path: Path) -> bool:
    """True when the store at ``path`` is whole and unchanged since it was built."""
    return is_intact(path)
