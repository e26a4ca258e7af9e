#!/usr/bin/env bash
# Create .venv and install the harness with its dev extras.
#
# Order matters: torch goes in first, pinned, so that no later requirement
# (accelerate, transformers) can pull a different torch with gigabytes of CUDA
# wheels on a CPU machine. An already installed torch (e.g. a CUDA build on a GPU
# box) is kept. torchvision is never installed: the harness does not need it and
# a broken build of it breaks transformers' imports.
set -euo pipefail
VENV="${1:-.venv}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "install: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)

if "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "install: keeping torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        echo "install: GPU found, installing torch==$TORCH_VERSION (CUDA build)"
        "${PIP[@]}" "torch==$TORCH_VERSION"
    else
        echo "install: no GPU, installing torch==$TORCH_VERSION (CPU build)"
        # TORCH_INDEX_URL lets a CPU machine without a local CPU wheel point at a CPU-only index.
        if [ -n "${TORCH_INDEX_URL:-}" ]; then
            "${PIP[@]}" "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX_URL"
        else
            "${PIP[@]}" "torch==$TORCH_VERSION"
        fi
    fi
fi

echo "install: installing the harness and its dev extras"
"${PIP[@]}" -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
"$PY" -c 'import harness' # fail loudly if the editable install did not take

if "$PY" -m pip show torchvision >/dev/null 2>&1; then
    echo "install: torchvision is installed in $VENV; remove it (pip uninstall torchvision): it breaks transformers here" >&2
    exit 1
fi
if ! command -v nvidia-smi >/dev/null 2>&1 && "$PY" -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
    echo "install: CUDA wheels found on a machine without a GPU; recreate $VENV (rm -rf $VENV && make install)" >&2
    exit 1
fi
echo "install: done"
