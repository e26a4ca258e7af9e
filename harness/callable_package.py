"""Let a package double as the API function of the same name.

``harness.report(...)`` and ``harness.sweep(...)`` are the Python API's mirrors of
``harness report`` and ``harness sweep`` (resolved lazily by ``harness.__getattr__``).
Once any module of the package ``harness.report`` is imported, Python binds the
attribute ``harness.report`` to that package, hiding the function. Making the
package callable keeps ``harness.report(...)`` working whatever was imported first.
"""

from __future__ import annotations

import importlib
import sys
import types


def make_callable(package: str, target: str, function: str) -> None:
    """Calling the module ``package`` calls ``target.function`` (imported on the first call)."""

    class _CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(importlib.import_module(target), function)(*args, **kwargs)

    sys.modules[package].__class__ = _CallablePackage
