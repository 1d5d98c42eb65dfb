#!/usr/bin/env bash
# Installs what is missing, builds, and runs lienthongd on the embedded default config
# (config/lienthong.yaml): loopback listener on 127.0.0.1:8080, routes from routes/.
# Beside it, on the default config, the simulated national portal and one-stop systems
# its public-service routes (routes/dvc/) talk to: `lienthong-sim all`, log in
# var/lienthong-sim.log (LIENTHONG_NO_SIM=1: without them). Then, from another terminal:
#   build/apps/lienthong-sim/lienthong-sim demo     # a dossier's journey, system by system
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
./deploy/build.sh
mkdir -p var
config="${LIENTHONG_CONFIG:-config/lienthong.yaml}"
if [ "$config" = config/lienthong.yaml ] && [ "${LIENTHONG_NO_SIM:-0}" != 1 ]; then
  # In a session of its own: Ctrl-C reaches the daemon, which drains first.
  setsid build/apps/lienthong-sim/lienthong-sim all --home . > var/lienthong-sim.log 2>&1 &
  sim=$!
  trap 'kill "$sim" 2>/dev/null || true' EXIT
  echo "lienthong-sim: portal :8090, one-stop systems :8091-8093, payment :8094, post :8095," \
       "identity :8096" \
       "(var/lienthong-sim.log)"
fi
# Ctrl-C or SIGTERM: the daemon finishes what is in flight, then the simulators stop.
daemon=
trap 'if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null || true; else exit 143; fi' INT TERM
build/apps/lienthongd/lienthongd --config "$config" &
daemon=$!
status=0
wait "$daemon" || status=$?
if [ "$status" -gt 128 ]; then  # the wait was cut by the signal: the daemon's own status
  status=0
  wait "$daemon" || status=$?
fi
exit "$status"
