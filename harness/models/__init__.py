"""Model families (adapters), the tiny offline zoo and loading from recipe data.

Importing this package imports every module in it, so each family file registers
its adapter in ``FAMILIES``: a new family is one new file here.
Public API: :func:`load_model`, :class:`LoadedVLM`, :class:`FamilyAdapter`,
:func:`get_adapter`, :func:`scale_names`.
"""

import importlib
import pkgutil

from harness.models.base import FamilyAdapter, LoadedVLM, ModelLoadError, ModelSource
from harness.models.loader import get_adapter, load_model


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def scale_names(family: str) -> list[str]:
    """The scale names of ``family`` (for recipe validation and suggestions)."""
    return get_adapter(family).scale_names()


__all__ = ["FamilyAdapter", "LoadedVLM", "ModelLoadError", "ModelSource", "get_adapter", "load_model", "scale_names"]
