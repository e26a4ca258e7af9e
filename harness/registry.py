"""One generic, typed registry for every kind of interchangeable component.

Families, datasets, signals, losses, combiners, judges… each live in a
``Registry[T]``. Components register by decorator under a unique name; a recipe
refers to them by that name. Looking up an unknown name raises a one-line
:class:`~harness.errors.UnknownComponentError` that lists the known names and the
closest match, so a typo in a recipe is obvious at build time.

:meth:`Registry.build` is the one way a component is made from a recipe's spec
(``{name, **options}``): it looks the name up, checks and coerces the options
against the constructor's signature (:mod:`harness.options`) and constructs it;
:meth:`Registry.options` is the same without constructing (what ``harness validate``
does). A registry with a ``base`` refuses components that do not subclass it, and
the module-level registries load the built-ins and ``harness.plugins`` entry points
on first use (:mod:`harness.components`), so any caller, a notebook included, sees
plugins.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, TypeVar

from harness.errors import (
    DuplicateComponentError,
    HarnessError,
    RecipeError,
    UnknownComponentError,
    closest,
    did_you_mean,
)
from harness.options import check_options, filled_options

if TYPE_CHECKING:
    from harness.combine.base import Combiner
    from harness.data.datasets import Dataset
    from harness.eval.judges.base import Judge
    from harness.models.base import FamilyAdapter
    from harness.signals.kinds import SignalKind
    from harness.signals.losses import Loss
    from harness.signals.recorder import Recorder
    from harness.train.reweighting import Reweighting

T = TypeVar("T")

__all__ = ["Entry", "Registry", "REGISTRIES", "registry", "closest", "did_you_mean", "first_line"]


def first_line(text: str | None) -> str:
    """The first non-empty line of a docstring, stripped."""
    for line in (text or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


class ComponentTypeError(HarnessError, TypeError):
    """A component registered in a registry whose base class it does not subclass."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered component with its name and one-line description."""

    name: str
    obj: T
    description: str


def _name_and_options(spec: Any) -> tuple[str, dict[str, Any]]:
    """``spec`` as (name, options): a bare name, a ``{name, **options}`` mapping or a recipe Component."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict):
        options = dict(spec)
        return options.pop("name", None), options
    return spec.name, dict(spec.options)


class Registry(Generic[T]):
    """Name → component table for one kind of component.

    ``kind`` is the plural noun users type (``harness ls combiners``). ``base``
    (``"module:Class"``, imported when the first component registers) is the class
    every component must subclass; ``autoload`` loads built-ins and plugins before
    the first lookup.
    """

    def __init__(self, kind: str, description: str, noun: str | None = None, *, base: str | None = None,
                 autoload: bool = False):
        self.kind = kind
        self.noun = noun or (kind[:-1] if kind.endswith("s") else kind)  # "combiner" for messages
        self.description = description
        self.base = base
        self.autoload = autoload
        self._entries: dict[str, Entry[T]] = {}

    # -- registration ----------------------------------------------------------------
    def register(self, name: str, *, description: str | None = None) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; a second use of a name raises."""

        def decorator(obj: T) -> T:
            self.add(name, obj, description=description)
            return obj

        return decorator

    def base_class(self) -> type | None:
        if self.base is None:
            return None
        module, _, attr = self.base.partition(":")
        return getattr(importlib.import_module(module), attr)

    def add(self, name: str, obj: T, *, description: str | None = None) -> None:
        """Register ``obj`` directly (the decorator calls this); a class learns its ``name``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind}: a component name must be a non-empty string")
        if name in self._entries:
            existing = self._entries[name].obj
            where = getattr(existing, "__module__", "?")
            raise DuplicateComponentError(
                f"{self.kind}: '{name}' is already registered (by {where}); pick another name"
            )
        base = self.base_class()
        if base is not None:
            if not (inspect.isclass(obj) and issubclass(obj, base)):
                raise ComponentTypeError(
                    f"{self.kind}: '{name}' ({getattr(obj, '__qualname__', obj)!s}) must be a subclass of "
                    f"{base.__module__}.{base.__qualname__}"
                )
            declared = vars(obj).get("name")
            if declared is not None and declared != name:
                raise ComponentTypeError(f"{self.kind}: '{name}' ({obj.__qualname__}) declares name = '{declared}'; "
                                         "the registry names the class, so drop the attribute")
            obj.name = name  # the registry names the class (combiners and families report it)
        desc = description if description is not None else first_line(inspect.getdoc(obj))
        self._entries[name] = Entry(name, obj, desc)

    def unregister(self, name: str) -> None:
        """Remove a component (for tests and plugin reloads)."""
        self._entries.pop(name, None)

    # -- lookup ----------------------------------------------------------------------
    def _load(self) -> None:
        if self.autoload:
            from harness.components import load_all

            load_all()

    def get(self, name: str) -> T:
        """The component registered as ``name``; an unknown name raises a one-line error."""
        self._load()
        try:
            return self._entries[name].obj
        except (KeyError, TypeError):
            raise UnknownComponentError(self.unknown_message(name)) from None

    def unknown_message(self, name) -> str:
        known = ", ".join(sorted(self._entries)) or "(none registered)"
        return f"unknown {self.noun} '{name}'{did_you_mean(name, list(self._entries))} (known: {known})"

    def entry(self, name: str) -> Entry[T]:
        self.get(name)
        return self._entries[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def version(self, name: str) -> int:
        """The component's ``version`` (a class or function attribute, 1 when absent).

        It enters every run's identity: bump it when a change to the component changes results.
        """
        return int(getattr(self.get(name), "version", 1))

    def operational(self, name: str) -> tuple[str, ...]:
        """Options of the component that do not change results (``operational``; kept out of identities)."""
        return tuple(getattr(self.get(name), "operational", ()))

    # -- construction ----------------------------------------------------------------
    def _lookup(self, name: Any, *, field: str, file: str | None, has_options: bool) -> T:
        try:
            return self.get(name)
        except UnknownComponentError as exc:
            raise RecipeError(str(exc), file=file, field=f"{field}.name" if has_options else field) from None

    def options(self, spec: Any, *, field: str, file: str | None = None, fill: bool = False) -> dict[str, Any]:
        """The options of ``spec`` checked and coerced against the component's signature
        (with ``fill``, every default it leaves out added): :meth:`build` without constructing."""
        name, given = _name_and_options(spec)
        obj = self._lookup(name, field=field, file=file, has_options=bool(given))
        check = filled_options if fill else check_options
        return check(obj, given, kind=self.noun, name=name, field=field, file=file)

    def build(self, spec: Any, *, field: str, file: str | None = None) -> Any:
        """The component ``spec`` names, constructed with its checked options.

        ``spec`` is a bare name, a ``{name, **options}`` mapping or a recipe component;
        every mistake (unknown name, unknown or mistyped option, a value the constructor
        refuses) is one :class:`~harness.errors.RecipeError` naming ``field`` (and ``file``).
        """
        name, _ = _name_and_options(spec)
        options = self.options(spec, field=field, file=file)
        obj = self.get(name)
        try:
            return obj(**options)
        except RecipeError:
            raise
        except HarnessError as exc:
            raise RecipeError(str(exc), file=file, field=field) from None
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"{self.noun} '{name}': {exc}", file=file, field=field) from None

    # -- container protocol ------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"


# The registries every part of the harness plugs into. Keep this list the single
# source of truth: `harness ls` and the docs are generated from it.
FAMILIES: Registry[type["FamilyAdapter"]] = Registry(
    "families", "model families (adapters that load a VLM and its processor)", noun="family",
    base="harness.models.base:FamilyAdapter", autoload=True)
DATASETS: Registry[type["Dataset"]] = Registry(
    "datasets", "training and evaluation data sources", base="harness.data.datasets:Dataset", autoload=True)
SIGNALS: Registry[type["SignalKind"]] = Registry(
    "signals", "what is distilled from a teacher (attention maps, hidden states, logits)",
    base="harness.signals.kinds:SignalKind", autoload=True)
RECORDERS: Registry[type["Recorder"]] = Registry(
    "recorders", "what a signal's targets are read from a forward pass and how they are stored",
    base="harness.signals.recorder:Recorder", autoload=True)
MATCHINGS: Registry[Callable] = Registry(
    "matchings", "how student layers are paired with teacher layers", autoload=True)
LOSSES: Registry[type["Loss"]] = Registry(
    "losses", "distillation losses between student and teacher signals", base="harness.signals.losses:Loss",
    autoload=True)
COMBINERS: Registry[type["Combiner"]] = Registry(
    "combiners", "gradient combiners over the objectives' Gramian", base="harness.combine.base:Combiner",
    autoload=True)
REWEIGHTINGS: Registry[type["Reweighting"]] = Registry(
    "reweightings", "online objective-weight schedules", base="harness.train.reweighting:Reweighting",
    autoload=True)
JUDGES: Registry[type["Judge"]] = Registry(
    "judges", "scorers of free-text answers", base="harness.eval.judges.base:Judge", autoload=True)
CORRUPTIONS: Registry[Callable] = Registry("corruptions", "image corruptions for robustness settings", autoload=True)

REGISTRIES: dict[str, Registry] = {
    r.kind: r
    for r in (FAMILIES, DATASETS, SIGNALS, RECORDERS, MATCHINGS, LOSSES, COMBINERS, REWEIGHTINGS, JUDGES, CORRUPTIONS)
}


def registry(kind: str) -> Registry:
    """The registry for ``kind`` (plural, as in ``harness ls KIND``), its components loaded."""
    try:
        reg = REGISTRIES[kind]
    except KeyError:
        known = ", ".join(sorted(REGISTRIES))
        raise UnknownComponentError(
            f"unknown component kind '{kind}'{did_you_mean(kind, list(REGISTRIES))} (known: {known})"
        ) from None
    reg._load()
    return reg
