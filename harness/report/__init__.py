"""Reports: run directories → paper tables with significance tests, and figures.

collect.py (run dirs → tidy frames), stats.py (pure, vectorised tests), spec.py
(table options, the ablation file's table section), tables.py (cells, comparisons,
corrections), caption.py, render.py + templates/ (LaTeX, Markdown, HTML, CSV,
terminal), plots.py (PNG/PDF figures), api.py (``report(...)``). Nothing here
registers components, so importing the package stays cheap.

Why the package is callable: ``harness.report(...)`` is the Python API's mirror of
``harness report`` (resolved lazily by ``harness.__getattr__``). Once any module of
this package is imported, Python binds the attribute ``harness.report`` to this
package, which would hide that function; calling the package therefore does what the
function does, so ``harness.report(...)`` works whatever was imported first.
"""

from __future__ import annotations

from harness.callable_package import make_callable

make_callable(__name__, "harness.report.api", "report")
