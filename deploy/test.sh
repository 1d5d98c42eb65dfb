#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs the whole test suite.
# Usage: deploy/test.sh [--sanitize]   (--sanitize: ASan + UBSan build in build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
sanitize=""
dir=build
if [ "${1:-}" = "--sanitize" ]; then
  sanitize="--sanitize"
  dir=build-asan
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
LIENTHONG_WERROR=ON ./deploy/build.sh $sanitize "$dir"
cd "$dir"
ctest --output-on-failure -j "${LIENTHONG_TEST_JOBS:-2}" --timeout 300
