"""`make install` is idempotent and `make test` fails when nothing is collected."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

VENV_PY = REPO_ROOT / ".venv" / "bin" / "python"


def installed_here() -> bool:
    """True when this test runs from the checkout's own, up-to-date .venv."""
    if not VENV_PY.exists() or Path(sys.executable).resolve() != VENV_PY.resolve():
        return False
    return subprocess.run(["make", "-q", "install"], cwd=REPO_ROOT).returncode == 0


needs_install = pytest.mark.skipif(not VENV_PY.exists(), reason="runs only inside a `make install`ed checkout")


@needs_install
def test_second_install_does_nothing():
    if not installed_here():
        pytest.skip("the .venv is out of date; `make install` first")
    proc = subprocess.run(["make", "install"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    assert "install:" not in proc.stdout  # the script did not run again


@needs_install
def test_make_test_fails_when_no_test_is_collected(tmp_path):
    if not installed_here():
        pytest.skip("the .venv is out of date; `make install` first")
    empty = tmp_path / "no_tests_here"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(["make", "test", f"PYTEST_ARGS={empty} -p no:cacheprovider"], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "no tests ran" in proc.stdout


def test_install_script_never_installs_torchvision_and_pins_torch_first():
    script = (REPO_ROOT / "scripts" / "install.sh").read_text()
    assert "torchvision" in script  # it checks for it …
    assert "pip install torchvision" not in script  # … and never installs it
    torch_at = script.index('"torch==$TORCH_VERSION"')
    package_at = script.index('-e ".[dev]"')
    assert torch_at < package_at
