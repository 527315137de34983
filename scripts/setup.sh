#!/usr/bin/env bash
# Set up a virtual environment in .venv with fields and everything its tests need.
# The torch pin is installed first: on a CPU-only machine it resolves to the local CPU wheel, on a
# GPU machine to PyPI's CUDA build; installing it first keeps other packages from pulling another.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_PIN=${TORCH_PIN:-torch==2.13.0}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -f scripts/apt-packages.txt ]; then
  missing=$(xargs -a scripts/apt-packages.txt -n1 sh -c 'dpkg -s "$0" >/dev/null 2>&1 || echo "$0"')
  if [ -n "$missing" ]; then
    echo "installing system packages: $missing"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_install() {  # quiet pip that still fails the script when pip fails
  .venv/bin/python -m pip install -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }
  return "${PIPESTATUS[0]}"
}
pip_install --upgrade pip
pip_install "$TORCH_PIN"
pip_install -e ".[dev,viewer,geometry,video,triton,capture]"  # capture: the pycolmap CPU wheel (~40 MB); triton: its kernels' parity tests run on CPU under the interpreter (~1 min)
.venv/bin/python -c "import fields, torch; print(f'fields {fields.__version__} with torch {torch.__version__} in .venv')"
