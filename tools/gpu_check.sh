#!/usr/bin/env bash
# ONE command for a lent GPU machine (issue 7): the `gpu` test group and the GPU benchmarks, within 8 minutes.
# Runs the packages from source (PYTHONPATH), installs nothing. Writes summary.md and logs under $OUT (or
# ./gpu-check-out). Exits nonzero when the tests fail or no GPU/CuPy is usable.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python}"
export PYTHONPATH="packages/minpy-array/src:packages/minpy-autograd/src:packages/minpy-jit/src:packages/minpy-symbol/src:packages/minpy-nn/src:packages/minpy/src${PYTHONPATH:+:$PYTHONPATH}"
START=$(date +%s)

# 1. fail fast when there is no usable GPU (a missing cupy or driver is a clear message, not a hang)
if ! timeout 60 "$PY" - > "$OUT/env.txt" 2>&1 <<'PYEOF'
import sys, numpy
from minpy.backends import get_backend
b = get_backend("cupy")
if not b.available():
    print(f"minpy's CuPy backend is unavailable: {b.unavailable_reason()}")
    sys.exit(1)
import cupy as cp
p = cp.cuda.runtime.getDeviceProperties(0)
name = p["name"].decode() if isinstance(p["name"], bytes) else p["name"]
try:
    import torch; tv = torch.__version__
except Exception:
    tv = "not installed"
print(f"device: {name} ({b.device_count} visible)")
print(f"CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, driver {cp.cuda.runtime.driverGetVersion()}")
print(f"CuPy {cp.__version__}, NumPy {numpy.__version__}, torch {tv}, Python {sys.version.split()[0]}")
PYEOF
then
  cat "$OUT/env.txt"
  echo "gpu_check: no usable GPU here; see $OUT/env.txt" >&2
  exit 2
fi
cat "$OUT/env.txt"

# 2. the gpu test group (about 4 minutes on an H100; cut off at 300 s)
timeout 300 "$PY" -m pytest tests/gpu -m gpu -rs -q -p no:cacheprovider \
  --junitxml="$OUT/gpu-tests.xml" > "$OUT/gpu-tests.log" 2>&1
TESTS_RC=$?
tail -n 40 "$OUT/gpu-tests.log"

# 3. the benchmarks, in whatever time is left (at least 60 s, at most 150 s)
LEFT=$(( 470 - ($(date +%s) - START) ))
[ "$LEFT" -gt 150 ] && LEFT=150
[ "$LEFT" -lt 60 ] && LEFT=60
QUICK=""
[ "$LEFT" -lt 120 ] && QUICK="--quick"
timeout "$LEFT" "$PY" tools/bench/gpu_bench.py --out "$OUT/gpu-bench.md" $QUICK > "$OUT/gpu-bench.log" 2>&1
BENCH_RC=$?
tail -n 20 "$OUT/gpu-bench.log"

# 4. summary
{
  echo "# gpu_check summary"
  echo
  sed 's/^/- /' "$OUT/env.txt"
  echo
  echo "## tests (pytest tests/gpu -m gpu): exit $TESTS_RC"
  echo
  echo '```'
  grep -E "passed|failed|error" "$OUT/gpu-tests.log" | tail -n 3
  echo '```'
  echo
  echo "## benchmarks: exit $BENCH_RC"
  echo
  if [ -s "$OUT/gpu-bench.md" ]; then sed -n '3,$p' "$OUT/gpu-bench.md"; else echo "(no table; see gpu-bench.log)"; fi
  echo
  echo "total: $(( $(date +%s) - START )) s"
} > "$OUT/summary.md"
cat "$OUT/summary.md"
[ "$TESTS_RC" -eq 0 ] || exit 1
[ "$BENCH_RC" -eq 0 ] || exit 3
exit 0
