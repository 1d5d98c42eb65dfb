#!/usr/bin/env bash
# Installs what is missing, builds, and runs lienthongd on the embedded default config
# (config/lienthong.yaml): loopback listener on 127.0.0.1:8080, routes from routes/.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
./deploy/build.sh
mkdir -p var
exec build/apps/lienthongd/lienthongd --config "${LIENTHONG_CONFIG:-config/lienthong.yaml}"
