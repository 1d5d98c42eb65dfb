#!/usr/bin/env bash
# Configures and builds lienthong. Usage: deploy/build.sh [--sanitize] [BUILD_DIR]
# --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer (default dir build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
dir=""
for a in "$@"; do
  case "$a" in
    --sanitize) sanitize=ON ;;
    *) dir="$a" ;;
  esac
done
[ -n "$dir" ] || { [ "$sanitize" = ON ] && dir=build-asan || dir=build; }

jobs="${LIENTHONG_JOBS:-$(nproc)}"
# LIENTHONG_WERROR is passed only when set, so that run.sh after test.sh (or the reverse)
# does not flip the flag and rebuild everything.
cmake -S . -B "$dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  ${LIENTHONG_WERROR:+-DLIENTHONG_WERROR=$LIENTHONG_WERROR} \
  -DLIENTHONG_SANITIZE="$sanitize" >/dev/null
cmake --build "$dir" -j "$jobs"
