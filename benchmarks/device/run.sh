#!/usr/bin/env bash
# divjax's one prepared accelerator run: fits in 8 minutes on one H100.
#
#   benchmarks/device/run.sh --out DIR     # the real run: writes DIR/RESULTS-gpu.md, DIR/paper-summaries.json,
#                                          # DIR/measurements.json and DIR/device-run.log (default DIR: benchmarks/)
#   benchmarks/device/run.sh --smoke       # tiny sizes on any backend (CPU in CI), < 1 min; writes to a
#                                          # temporary folder unless --out is given, never to benchmarks/
#
# Steps, each under its own time limit inside an overall deadline (DIVJAX_DEVICE_BUDGET seconds, default 450):
#   0. wheels: if .whl/ holds wheels (ott-jax and its missing dependencies, carried to a machine without an
#      index), install them into /tmp/site and put it on PYTHONPATH; without ott-jax the OT parts are skipped;
#   1. the GPU-relevant tests: lowered precision of every accuracy-critical dot, KDE estimator, IB estimators,
#      Sinkhorn wrappers (when ott-jax and POT are present), the dry-run forecast;
#   2. benchmarks.device.gpu_bench: matmul peaks measured in the same run, KDE at GPU sizes as a fraction of
#      the float32 HIGHEST peak, Sinkhorn loop vs vmap, Nash-MP vmapped, and the paper-scale runs that fit.
set -uo pipefail
cd "$(dirname "$0")/../.."
SMOKE=0
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --out) OUT="$2"; shift ;;
    *) echo "usage: $0 [--smoke] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$OUT" ]; then
  if [ "$SMOKE" = 1 ]; then OUT="$(mktemp -d -t divjax-device-smoke-XXXXXX)"; else OUT="benchmarks"; fi
fi
mkdir -p "$OUT"
LOG="$OUT/device-run.log"
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || PY=python
BUDGET="${DIVJAX_DEVICE_BUDGET:-450}"
[ "$SMOKE" = 1 ] && BUDGET="${DIVJAX_DEVICE_BUDGET:-50}"
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg

{
  echo "== divjax device run $(date -u +%FT%TZ), smoke=$SMOKE, budget ${BUDGET}s, out=$OUT"
  if ls .whl/*.whl >/dev/null 2>&1; then
    echo "== installing carried wheels: $(ls .whl | tr '\n' ' ')"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH="$PYTHONPATH:/tmp/site"
  fi
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" -c "import jax; print('jax', jax.__version__, jax.default_backend(), jax.devices())"
  HAVE_OTT=$("$PY" -c "import ott" >/dev/null 2>&1 && echo 1 || echo 0)
  HAVE_POT=$("$PY" -c "import ot" >/dev/null 2>&1 && echo 1 || echo 0)
  echo "== ott-jax present: $HAVE_OTT, POT present: $HAVE_POT"

  # 1. Tests. The caller's XLA_FLAGS are used as given (empty: XLA's defaults on the accelerator).
  if [ "$SMOKE" = 1 ]; then
    TESTS=(tests/test_precision.py::test_the_check_sees_a_default_precision_dot)
    TEST_LIMIT=40
  else
    TESTS=(tests/test_precision.py tests/kde/test_estimator.py tests/ib tests/experiments/test_forecast.py)
    [ "$HAVE_OTT" = 1 ] && [ "$HAVE_POT" = 1 ] && TESTS+=(tests/test_ot.py)
    TEST_LIMIT=$(( $(left) / 2 ))
  fi
  echo "== tests (limit ${TEST_LIMIT}s): ${TESTS[*]}"
  if [ "$HAVE_OTT" = 0 ]; then
    TEST_ARGS=(-k "not ot.")
  else
    TEST_ARGS=()
  fi
  XLA_FLAGS="${XLA_FLAGS:-}" timeout "$TEST_LIMIT" "$PY" -m pytest -n 0 -q -p no:cacheprovider -x \
      --no-header -W ignore::DeprecationWarning "${TEST_ARGS[@]}" "${TESTS[@]}" 2>&1 | tail -n 25
  echo "== tests exit status: ${PIPESTATUS[0]} (124: stopped at the limit)"

  # 2. Measurements and paper-scale runs.
  SMOKE_FLAG=()
  [ "$SMOKE" = 1 ] && SMOKE_FLAG=(--smoke)
  LIMIT=$(left)
  echo "== gpu_bench (limit ${LIMIT}s)"
  timeout "$LIMIT" "$PY" -m benchmarks.device.gpu_bench --out "$OUT" --budget "$(( LIMIT - 10 ))" "${SMOKE_FLAG[@]}"
  echo "== gpu_bench exit status: $? (124: stopped at the limit); total $(( $(date +%s) - START ))s"
} 2>&1 | tee "$LOG"
test -s "$OUT/RESULTS-gpu.md"
