"""Loads the built-in components and third-party plugins into the registries.

Built-in packages register their components by decorator when imported; this
module imports them once, on first use, so ``import harness`` stays cheap. Each
package's ``__init__`` imports the modules that register (e.g. ``harness.combine``
imports ``sum``, ``pcgrad``, ``agp``). Third-party packages declare an entry point
in the group ``harness.plugins``; loading it imports their module (which registers
by decorator) and, if the loaded object is callable, calls it once.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from harness.errors import HarnessError

PLUGIN_GROUP = "harness.plugins"

# Packages whose import registers built-in components.
BUILTIN_PACKAGES: tuple[str, ...] = (
    "harness.models",
    "harness.data",
    "harness.signals",
    "harness.combine",
    "harness.train",
    "harness.eval",
)

_loaded = False


def load_builtins() -> None:
    for module in BUILTIN_PACKAGES:
        importlib.import_module(module)


def load_plugins() -> list[str]:
    """Load every ``harness.plugins`` entry point; returns their names."""
    loaded = []
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            obj = ep.load()
            if callable(obj):
                obj()
        except HarnessError as exc:  # a plugin's own mistake (a component of the wrong kind, say)
            raise HarnessError(f"plugin '{ep.name}' ({ep.value}): {exc}") from None
        except Exception as exc:  # a broken plugin must say which one it is
            raise HarnessError(f"plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from exc
        loaded.append(ep.name)
    return loaded


def load_all() -> None:
    """Load built-ins and plugins once per process."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    try:
        load_builtins()
        load_plugins()
    except BaseException:
        _loaded = False
        raise
