#!/usr/bin/env bash
# Set up (scripts/setup.sh), check the import layers and ruff, then run the whole default test suite.
# Extra arguments go to pytest (and skip the checks).
# Without arguments the Triton parity tests (marker `triton`) run in a pytest process of their own: under
# Triton's interpreter they must be the first to import the kernel modules, which an earlier test in the
# same process can pre-empt (seen once in a full run, not reproduced in isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TORCH_EXTENSIONS_DIR=${TORCH_EXTENSIONS_DIR:-$(mktemp -d)}

run_pytest() {  # pytest's exit code, with "collected nothing" (5) as a failure
  set +e
  .venv/bin/python -m pytest -q "$@"
  local code=$?
  set -e
  if [ "$code" = 5 ]; then
    echo "pytest collected no tests: $*"
    return 1
  fi
  return "$code"
}

if [ $# -gt 0 ]; then
  run_pytest "$@"
  exit $?
fi
status=0
# the layers (import-linter contracts in pyproject.toml) and the style (ruff, line length 120)
.venv/bin/lint-imports --no-cache || status=$?
.venv/bin/ruff check fields tests benchmarks examples scripts || status=$?
run_pytest -m "not slow and not triton" || status=$?
run_pytest -m "triton and not slow" tests/kernels || status=$?
exit "$status"
