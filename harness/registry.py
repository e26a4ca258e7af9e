"""One generic, typed registry for every kind of interchangeable component.

Families, datasets, signals, losses, combiners, judges… each live in a
``Registry[T]``. Components register by decorator under a unique name; a recipe
refers to them by that name. Looking up an unknown name raises a one-line
:class:`~harness.errors.UnknownComponentError` that lists the known names and the
closest match, so a typo in a recipe is obvious at build time.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

from harness.errors import DuplicateComponentError, UnknownComponentError

T = TypeVar("T")


def closest(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The candidate most similar to ``name`` (or None when nothing is close)."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates) -> str:
    """A ``"; did you mean 'x'?"`` suffix, or an empty string."""
    match = closest(name, list(candidates))
    return f"; did you mean '{match}'?" if match else ""


def first_line(text: str | None) -> str:
    """The first non-empty line of a docstring, stripped."""
    for line in (text or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered component with its name and one-line description."""

    name: str
    obj: T
    description: str


class Registry(Generic[T]):
    """Name → component table for one kind of component.

    ``kind`` is the plural noun users type (``harness ls combiners``).
    """

    def __init__(self, kind: str, description: str, noun: str | None = None):
        self.kind = kind
        self.noun = noun or (kind[:-1] if kind.endswith("s") else kind)  # "combiner" for messages
        self.description = description
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, description: str | None = None) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; a second use of a name raises."""

        def decorator(obj: T) -> T:
            self.add(name, obj, description=description)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, description: str | None = None) -> None:
        """Register ``obj`` directly (the decorator calls this)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind}: a component name must be a non-empty string")
        if name in self._entries:
            existing = self._entries[name].obj
            where = getattr(existing, "__module__", "?")
            raise DuplicateComponentError(
                f"{self.kind}: '{name}' is already registered (by {where}); pick another name"
            )
        desc = description if description is not None else first_line(inspect.getdoc(obj))
        self._entries[name] = Entry(name, obj, desc)

    def get(self, name: str) -> T:
        """The component registered as ``name``; an unknown name raises a one-line error."""
        try:
            return self._entries[name].obj
        except (KeyError, TypeError):
            raise UnknownComponentError(self.unknown_message(name)) from None

    def version(self, name: str) -> int:
        """The component's ``version`` (a class or function attribute, 1 when absent).

        It enters every run's identity: bump it when a change to the component changes results.
        """
        return int(getattr(self.get(name), "version", 1))

    def operational(self, name: str) -> tuple[str, ...]:
        """Options of the component that do not change results (``operational``; kept out of identities)."""
        return tuple(getattr(self.get(name), "operational", ()))

    def unknown_message(self, name) -> str:
        known = ", ".join(sorted(self._entries)) or "(none registered)"
        return f"unknown {self.noun} '{name}'{did_you_mean(name, list(self._entries))} (known: {known})"

    def entry(self, name: str) -> Entry[T]:
        self.get(name)
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def unregister(self, name: str) -> None:
        """Remove a component (for tests and plugin reloads)."""
        self._entries.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"


# The registries every part of the harness plugs into. Keep this list the single
# source of truth: `harness ls` and the docs are generated from it.
FAMILIES: Registry = Registry("families", "model families (adapters that load a VLM and its processor)", noun="family")
DATASETS: Registry = Registry("datasets", "training and evaluation data sources")
SIGNALS: Registry = Registry("signals", "what is distilled from a teacher (attention maps, hidden states, logits)")
MATCHINGS: Registry = Registry("matchings", "how student layers are paired with teacher layers")
LOSSES: Registry = Registry("losses", "distillation losses between student and teacher signals")
COMBINERS: Registry = Registry("combiners", "gradient combiners over the objectives' Gramian")
REWEIGHTINGS: Registry = Registry("reweightings", "online objective-weight schedules")
JUDGES: Registry = Registry("judges", "scorers of free-text answers")
CORRUPTIONS: Registry = Registry("corruptions", "image corruptions for robustness settings")

REGISTRIES: dict[str, Registry] = {
    r.kind: r
    for r in (FAMILIES, DATASETS, SIGNALS, MATCHINGS, LOSSES, COMBINERS, REWEIGHTINGS, JUDGES, CORRUPTIONS)
}


def registry(kind: str) -> Registry:
    """The registry for ``kind`` (plural, as in ``harness ls KIND``)."""
    from harness.components import load_all

    load_all()
    try:
        return REGISTRIES[kind]
    except KeyError:
        known = ", ".join(sorted(REGISTRIES))
        raise UnknownComponentError(
            f"unknown component kind '{kind}'{did_you_mean(kind, list(REGISTRIES))} (known: {known})"
        ) from None
