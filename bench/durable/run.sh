#!/usr/bin/env bash
# Durable one-way delivery: HTTP -> journal (store, fsync) -> HTTP, beside the same route
# without a store (messages held in memory), and beside the disk's own fsync rate measured
# in the same run, and beside the journalled route with per-dossier ordering (ordering.key
# over 1000 dossier codes), and beside the journalled route without the audit chain (its
# record of each delivery goes in the journal's own transaction). The daemons forward to the same lienthong-echo backend; wrk
# POSTs 1 KB one-way messages (202 answers), each with a random dossier code; rounds
# rotate the order of the four.
#   bench/durable/run.sh [DURATION=10s] [ROUNDS=3] [CONNS=80] [SIZE=1024]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for arg in "$@"; do declare "$arg"; done
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-80}
SIZE=${SIZE:-1024}
LIENTHONGD=${LIENTHONGD:-$ROOT/build/apps/lienthongd/lienthongd}
ECHO=${ECHO:-$ROOT/build/bench/lienthong-echo}
RESULTS=${RESULTS:-$ROOT/bench/results}
TMP=$(mktemp -d "$ROOT/build/bench-durable.XXXXXX")  # on the build's disk, not a RAM disk
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "run.sh: $*" >&2; exit 2; }
log() { echo "== $*" >&2; }
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

start_echo

declare -A PORT
start_daemon() {
  local name=$1 store=$2 delivery=${3:-} port=$((20000 + RANDOM % 12000))
  mkdir -p "$TMP/$name/routes"
  cat >"$TMP/$name/lienthong.yaml" <<CFG
log: { level: warn }
engine: { workers: 64, queue: 4096, max-pending: 1000000 }
listeners:
  bench: { http: { address: 127.0.0.1, port: $port, threads: 256 } }
connections:
  echo: { http: { url: "http://127.0.0.1:$ECHO_PORT", pool: 256 } }
$store
routes: [ routes ]
CFG
  cat >"$TMP/$name/routes/r.yaml" <<ROUTE
routes:
  - id: one-way
    pattern: one-way
    from: { http: { listener: bench, path: /echo, methods: [POST] } }
    $delivery
    to: { http: { connection: echo, path: /echo } }
ROUTE
  (cd "$TMP/$name" && exec "$LIENTHONGD" --config lienthong.yaml) >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 150); do
    curl -s -o /dev/null -X POST --data x "http://127.0.0.1:$port/echo" && break
    sleep 0.1
  done
  PORT[$name]=$port
}
start_daemon memory ""
start_daemon durable "store: { path: var/lienthong.db }"
start_daemon ordered "store: { path: var/lienthong.db }" 'delivery: { ordering: { key: "${MaHoSo}" } }'
start_daemon unaudited "store: { path: var/lienthong.db }
audit: { enabled: false }"
log "memory on ${PORT[memory]}, durable on ${PORT[durable]}, ordered on ${PORT[ordered]}, unaudited on ${PORT[unaudited]}, echo on $ECHO_PORT"

log "fsync rate of the disk under $TMP (3 s, 1 KB write + fsync)"
FSYNC=$(python3 - "$TMP/fsync.probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
n, end = 0, time.time() + 3
while time.time() < end:
    os.write(fd, b"x" * 1024); os.fsync(fd); n += 1
print(round(n / 3))
PY
)

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("x", $SIZE)
wrk.headers["Content-Type"] = "application/octet-stream"
request = function()
  wrk.headers["MaHoSo"] = "000.00.01.H22-240315-" .. math.random(1000)
  return wrk.format()
end
LUA
declare -A RATES ERRORS
NAMES="memory durable ordered unaudited"
for name in $NAMES; do RATES[$name]=""; ERRORS[$name]=0; done
for name in $NAMES; do
  wrk -t2 -c"$CONNS" -d2s -s "$TMP/post.lua" "http://127.0.0.1:${PORT[$name]}/echo" >/dev/null
done
for round in $(seq "$ROUNDS"); do
  case $((round % 4)) in
    1) order="memory durable ordered unaudited" ;;
    2) order="durable ordered unaudited memory" ;;
    3) order="ordered unaudited memory durable" ;;
    0) order="unaudited memory durable ordered" ;;
  esac
  for name in $order; do
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" -s "$TMP/post.lua" "http://127.0.0.1:${PORT[$name]}/echo")
    # Accepted messages only (202): a 503 is the engine pushing back, not a delivery.
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    secs=$(awk '/requests in/ {sub(/s,?$/, "", $4); print $4}' <<<"$out")
    bad=$(wrk_errors <<<"$out")
    rate=$(awk "BEGIN{printf \"%.0f\", ($total - ${bad:-0}) / $secs}")
    RATES[$name]+="$rate "
    ERRORS[$name]=$((ERRORS[$name] + ${bad:-0}))
    log "$name round $round: $rate req/s, errors ${bad:-0}"
  done
done
MEM=$(median "${RATES[memory]}")
DUR=$(median "${RATES[durable]}")
ORD=$(median "${RATES[ordered]}")
UNA=$(median "${RATES[unaudited]}")
mkdir -p "$RESULTS"
out=$RESULTS/durable-$(date '+%Y%m%d-%H%M%S').txt
{
  echo "lienthong durable one-way benchmark, $(date '+%Y-%m-%d %H:%M:%S %z')"
  echo "host: $(uname -n), $(nproc) cores; disk: $(findmnt -no FSTYPE -T "$TMP") under $TMP"
  echo "revision: $(git -C "$ROOT" rev-parse --short HEAD); wrk -t2 -c$CONNS -d$DURATION, $SIZE-byte POSTs, median of $ROUNDS rounds"
  echo
  printf '%-26s %12s\n' "path" "accepted/s"
  printf '%-26s %12s\n' "one-way, in memory" "$MEM"
  printf '%-26s %12s\n' "one-way, journalled" "$DUR"
  printf '%-26s %12s\n' "journalled, ordered" "$ORD"
  printf '%-26s %12s\n' "journalled, no audit chain" "$UNA"
  printf '%-26s %12s\n' "disk fsync (1 KB writes)" "$FSYNC"
  echo
  echo "durable / memory: $(awk "BEGIN{printf \"%.2f\", $DUR/$MEM}")"
  echo "ordered (1000 keys) / memory: $(awk "BEGIN{printf \"%.2f\", $ORD/$MEM}")"
  echo "durable with the audit chain / without: $(awk "BEGIN{printf \"%.2f\", $DUR/$UNA}")"
  echo "durable req/s per fsync/s: $(awk "BEGIN{printf \"%.1f\", $DUR/$FSYNC}") (messages sharing a commit, at least)"
  echo "rounds: memory ${RATES[memory]}; durable ${RATES[durable]}; ordered ${RATES[ordered]}; unaudited ${RATES[unaudited]}"
  echo "pushed back (503) or socket errors, all rounds: memory ${ERRORS[memory]}, durable ${ERRORS[durable]}, ordered ${ERRORS[ordered]}, unaudited ${ERRORS[unaudited]}"
} | tee "$out"
echo "results written to $out" >&2
