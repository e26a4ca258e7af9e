"""Model families (adapters), the tiny offline zoo and loading from recipe data.

Importing this package registers the built-in families in ``FAMILIES``.
Public API: :func:`load_model`, :class:`LoadedVLM`, :class:`FamilyAdapter`,
:func:`get_adapter`, :func:`scale_names`.
"""

from harness.models import internvl, qwen_vl  # noqa: F401  (register families)
from harness.models.base import FamilyAdapter, LoadedVLM, ModelLoadError, ModelSource, get_adapter, load_model


def scale_names(family: str) -> list[str]:
    """The scale names of ``family`` (for recipe validation and suggestions)."""
    return get_adapter(family).scale_names()


__all__ = ["FamilyAdapter", "LoadedVLM", "ModelLoadError", "ModelSource", "get_adapter", "load_model", "scale_names"]
