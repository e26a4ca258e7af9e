"""`harness validate --check-files`: every local path a recipe names exists, or the field is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RECIPE = """\
name: files
student: {{family: internvl3, path: {weights}}}
data:
  train: {{name: drivebench, path: {data}, data_root: {root}}}
"""


def validate(tmp_path, **paths):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(**paths))
    return subprocess.run([sys.executable, "-m", "harness.cli", "validate", "--check-files", str(recipe)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_missing_paths_name_their_field(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "d.json").write_text("[]")
    ok = validate(tmp_path, weights=tmp_path / "w", data=tmp_path / "d.json", root=tmp_path)
    assert ok.returncode == 0, ok.stderr
    bad = validate(tmp_path, weights=tmp_path / "w", data=tmp_path / "nope.json", root=tmp_path / "gone")
    assert bad.returncode == 2
    line = bad.stderr.strip()
    assert "\n" not in line and "data.train.path: " in line and "nope.json' does not exist" in line
    assert "(and 1 more missing path(s))" in line


def test_run_checks_files_before_loading_anything(tmp_path, monkeypatch):
    import pytest

    from harness.errors import HarnessError
    from harness.recipe import load_recipe
    from harness.runner import prepare

    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(weights=tmp_path / "no_weights", data=tmp_path / "d.json", root=tmp_path))
    (tmp_path / "d.json").write_text("[]")
    with pytest.raises(HarnessError, match=r"student.path: '.*no_weights' does not exist"):
        prepare(load_recipe(recipe), progress=False)
