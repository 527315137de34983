#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the whole default test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TORCH_EXTENSIONS_DIR=${TORCH_EXTENSIONS_DIR:-$(mktemp -d)}
set +e
.venv/bin/python -m pytest -q "$@"
code=$?
set -e
if [ "$code" = 5 ]; then
  echo "pytest collected no tests"
  exit 1
fi
exit "$code"
