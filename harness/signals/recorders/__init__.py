"""The built-in recorders, one file each: ``attention``, ``hidden``, ``logits``.

A recorder (:mod:`harness.signals.recorder`) says what a kind of target is read from a
forward pass and how it is stored; every module of this folder is imported, so a new
one registers by being here.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
