"""Reports: run directories → paper tables with significance tests, and figures.

collect.py (run dirs → tidy frames), stats.py (pure, vectorised tests), spec.py
(table options, the ablation file's table section), tables.py (cells, comparisons,
corrections), caption.py, render.py + templates/ (LaTeX, Markdown, HTML, CSV,
terminal), plots.py (PNG/PDF figures), api.py (``report(...)``, which the Python
API offers as ``harness.write_report``). Nothing here registers components, so
importing the package stays cheap.
"""
