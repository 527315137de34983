#!/usr/bin/env bash
# The GPU check of issues 8 and 14 in one command: Triton parity tests on CUDA (grid, volume rendering, splat
# compositing), then benchmarks/gpu.py's table (with its splat section).
#
#   scripts/device_check.sh prepare     # HERE (CPU machine with .venv and internet), before the device call:
#                                       # wheels the GPU machine lacks -> .whl/, generated scene -> .devcache/
#   scripts/device_check.sh             # ON THE GPU MACHINE (device tool, carry [".whl", ".devcache"]):
#                                       # installs .whl, runs the tests and the benchmark, logs and JSON to $OUT
#   scripts/device_check.sh --dry-run   # here, on CPU: the same steps at smoke sizes (Triton's interpreter)
#
# Extra arguments after the mode go to benchmarks/gpu.py (e.g. --sections grid,volume --no-compile).
# NO_TESTS=1 skips the parity tests (a rerun of the benchmark only). The GPU machine has PyTorch, Triton,
# Lightning, scikit-image, safetensors, torchmetrics, pytest(-xdist); it lacks pydantic (and its
# helpers) and trimesh, and reaches no registry: pydantic travels as cp312 wheels, the scene pre-made.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
[ $# -gt 0 ] && shift

WHEELS="pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0"

if [ "$mode" = prepare ]; then
  set -e
  mkdir -p .git/info
  for path in /.whl/ /.devcache/; do grep -qxF "$path" .git/info/exclude 2>/dev/null || echo "$path" >>.git/info/exclude; done
  rm -rf .whl && mkdir -p .whl
  # shellcheck disable=SC2086
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl $WHEELS
  FIELDS_CACHE=$PWD/.devcache .venv/bin/python -c "from benchmarks.gpu_fits import generate_radiance_scene as g; g()"
  du -sh .whl .devcache
  echo 'now: run(command="scripts/device_check.sh", carry=[".whl", ".devcache"], timeout_s=600)'
  exit 0
fi

OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 FIELDS_CACHE=$PWD/.devcache PYTHONPATH=$PWD
if [ "$mode" = --dry-run ]; then
  PY=${PY:-.venv/bin/python}
  export TRITON_INTERPRET=1
  bench_args=(--smoke --sections grid,volume,splat)
  test_args=()
else
  PY=python3
  if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
  fi
  bench_args=()
  test_args=()
  $PY -c "import xdist" 2>/dev/null && test_args=(-n 8)  # pytest-xdist: the kernel variants compile in parallel
fi

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch, triton, pydantic; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, 'pydantic', pydantic.__version__, 'device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
} 2>&1 | tee "$OUT/env.txt"

status=0
if [ "${NO_TESTS:-0}" != 1 ]; then
  echo "== parity tests (tests/kernels/test_triton_*.py)"
  timeout 200 $PY -m pytest -q -p no:cacheprovider "${test_args[@]}" tests/kernels/test_triton_grid.py \
    tests/kernels/test_triton_volume.py tests/kernels/test_triton_splat.py tests/kernels/test_tcnn_parity.py 2>&1 \
    | tee "$OUT/tests.log" | tail -25
  status=${PIPESTATUS[0]}
  echo "tests exit code: $status"
fi

echo "== benchmarks/gpu.py"
timeout 360 $PY -m benchmarks.gpu "${bench_args[@]}" "$@" --out "$OUT" 2>&1 | tee "$OUT/benchmark.log"
bench_status=${PIPESTATUS[0]}
echo "benchmark exit code: $bench_status; tests exit code: $status; logs and JSON in $OUT"
[ "$status" = 0 ] && [ "$bench_status" = 0 ]
