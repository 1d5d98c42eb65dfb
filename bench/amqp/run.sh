#!/usr/bin/env bash
# AMQP through a private RabbitMQ node (AMQP 1.0 plugin), beside a plain Qpid Proton
# sender and receiver through the same broker as the bound:
#   HTTP -> AMQP: wrk POSTs SIZE-byte one-way messages to a route whose output is a
#     queue (accepted/s; each message is durable and counts once the broker accepted it),
#     beside lienthong-proton-bench sending COUNT durable messages (msg/s);
#   AMQP -> HTTP: a route drains a queue of COUNT messages to the echo backend (msg/s, from
#     the route's reload to the echo's answer to the last one, which the echo reports on its
#     own: polling the broker with rabbitmqctl would take a core from the daemon while it
#     drains), beside lienthong-proton-bench receiving COUNT.
#   bench/amqp/run.sh [DURATION=10s] [ROUNDS=3] [CONNS=80] [SIZE=1024] [COUNT=20000]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for arg in "$@"; do declare "$arg"; done
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-80}
SIZE=${SIZE:-1024}
COUNT=${COUNT:-20000}
LIENTHONGD=${LIENTHONGD:-$ROOT/build/apps/lienthongd/lienthongd}
ECHO=${ECHO:-$ROOT/build/bench/lienthong-echo}
PAIR=${PAIR:-$ROOT/build/bench/lienthong-proton-bench}
RESULTS=${RESULTS:-$ROOT/bench/results}
TMP=$(mktemp -d "$ROOT/build/bench-amqp.XXXXXX")
BROKER=$ROOT/tests/fixtures/rabbitmq.sh
DAEMON_PID=""
PIDS=()
cleanup() {
  [[ -n $DAEMON_PID ]] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  "$BROKER" stop "$TMP/broker" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "run.sh: $*" >&2; exit 2; }
log() { echo "== $*" >&2; }
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"

AMQP_PORT=$("$BROKER" start "$TMP/broker") || die "the broker did not start"
URL="amqp://127.0.0.1:$AMQP_PORT"
depth() {  # messages in a queue
  "$BROKER" ctl "$TMP/broker" list_queues name messages --quiet 2>/dev/null |
    awk -v q="$1" '$1 == q {print $2}'
}
purge() { "$BROKER" ctl "$TMP/broker" purge_queue "$1" >/dev/null 2>&1 || true; }

(( COUNT % 100 == 0 )) || die "COUNT must be a multiple of 100 (the echo reports every 100)"
ECHO_ARGS="--report-every 100"
start_echo
ECHOED=0  # what the echo answered so far

PORT=$((20000 + RANDOM % 12000))
mkdir -p "$TMP/d/routes"
cat >"$TMP/d/lienthong.yaml" <<CFG
log: { level: warn }
engine: { workers: 64, queue: 4096, max-pending: 4096 }
listeners:
  bench: { http: { address: 127.0.0.1, port: $PORT, threads: 256 } }
connections:
  echo: { http: { url: "http://127.0.0.1:$ECHO_PORT", pool: 256 } }
  broker: { amqp: { url: "$URL", user: guest, password-env: BENCH_AMQP_PASSWORD,
                    sasl: { mechanisms: [PLAIN], allow-insecure: true } } }
routes: [ routes ]
CFG
IN_ROUTE='routes:
  - id: http-to-amqp
    pattern: one-way
    from: { http: { listener: bench, path: /in, methods: [POST] } }
    to: { amqp: { connection: broker, address: /queue/bench-in } }
'
OUT_ROUTE='  - id: amqp-to-http
    pattern: one-way
    from: { amqp: { connection: broker, address: /queue/bench-out, credit: 500 } }
    to: { http: { connection: echo, path: /echo } }
'
printf '%s' "$IN_ROUTE" >"$TMP/d/routes/r.yaml"
(cd "$TMP/d" && BENCH_AMQP_PASSWORD=guest exec "$LIENTHONGD" --config lienthong.yaml) >"$TMP/d.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 150); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "http://127.0.0.1:$PORT/in" || true)
  [[ $code == 202 ]] && break
  sleep 0.1
done
[[ $code == 202 ]] || die "the daemon did not take messages: $(cat "$TMP/d.log")"
log "broker on $AMQP_PORT, daemon on $PORT, echo on $ECHO_PORT"

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("x", $SIZE)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
wrk -t2 -c"$CONNS" -d2s -s "$TMP/post.lua" "http://127.0.0.1:$PORT/in" >/dev/null  # warm-up

SEND_L="" SEND_P="" RECV_L="" RECV_P="" ERRORS=0
for round in $(seq "$ROUNDS"); do
  purge bench-in
  # HTTP -> AMQP: what the broker holds once the daemon sent what it took, per second
  # from the start of the load; then the plain sender.
  start=$(date +%s.%N)
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" -s "$TMP/post.lua" "http://127.0.0.1:$PORT/in")
  bad=$(wrk_errors <<<"$out")
  held=-1
  for _ in $(seq 600); do
    now=$(depth bench-in)
    [[ $now == "$held" ]] && break
    held=$now
    end=$(date +%s.%N)
    sleep 0.5
  done
  rate=$(awk "BEGIN{printf \"%.0f\", $held / ($end - $start)}")
  SEND_L+="$rate "; ERRORS=$((ERRORS + ${bad:-0}))
  purge bench-in
  p=$("$PAIR" send "$URL" /queue/bench-ref "$COUNT" "$SIZE" | awk '{print $(NF-1)}')
  SEND_P+="$p "
  log "round $round: HTTP->AMQP $rate msg/s (non-2xx ${bad:-0}); proton send $p msg/s"
  # The plain receiver drains what the plain sender queued.
  p=$("$PAIR" recv "$URL" /queue/bench-ref "$COUNT" 500 | awk '{print $(NF-1)}')
  RECV_P+="$p "
  # AMQP -> HTTP: fill the queue, then let the route drain it (added by a reload).
  "$PAIR" send "$URL" /queue/bench-out "$COUNT" "$SIZE" >/dev/null
  printf '%s' "$IN_ROUTE" >"$TMP/d/routes/r.yaml"
  printf '%s' "$OUT_ROUTE" >>"$TMP/d/routes/r.yaml"
  start=$(date +%s.%N)
  kill -HUP "$DAEMON_PID"
  ECHOED=$((ECHOED + COUNT))
  for _ in $(seq 15000); do
    grep -q "^answered $ECHOED\$" "$TMP/echo.out" && break
    sleep 0.02
  done
  end=$(date +%s.%N)
  grep -q "^answered $ECHOED\$" "$TMP/echo.out" || die "the route did not drain the queue"
  for _ in $(seq 50); do  # the last accepts reach the broker just after the answers
    [[ "$(depth bench-out)" == 0 ]] && break
    sleep 0.1
  done
  [[ "$(depth bench-out)" == 0 ]] || die "the queue is not empty after the drain"
  printf '%s' "$IN_ROUTE" >"$TMP/d/routes/r.yaml"
  kill -HUP "$DAEMON_PID"
  rate=$(awk "BEGIN{printf \"%.0f\", $COUNT / ($end - $start)}")
  RECV_L+="$rate "
  log "round $round: AMQP->HTTP $rate msg/s; proton receive $p msg/s"
done

SL=$(median "$SEND_L"); SP=$(median "$SEND_P"); RL=$(median "$RECV_L"); RP=$(median "$RECV_P")
mkdir -p "$RESULTS"
out=$RESULTS/amqp-$(date '+%Y%m%d-%H%M%S').txt
{
  echo "lienthong AMQP benchmark, $(date '+%Y-%m-%d %H:%M:%S %z')"
  echo "host: $(uname -n), $(nproc) cores; RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null) (AMQP 1.0 plugin), private node"
  echo "revision: $(git -C "$ROOT" rev-parse --short HEAD); $SIZE-byte durable messages; wrk -t2 -c$CONNS -d$DURATION; COUNT=$COUNT; median of $ROUNDS rounds"
  echo
  printf '%-40s %10s %18s %6s\n' "path" "msg/s" "bound (plain Proton)" "ratio"
  printf '%-40s %10s %18s %6s\n' "HTTP -> AMQP (accepted by the broker)" "$SL" "$SP" "$(awk "BEGIN{printf \"%.2f\", $SL/$SP}")"
  printf '%-40s %10s %18s %6s\n' "AMQP -> HTTP (drained to the echo)" "$RL" "$RP" "$(awk "BEGIN{printf \"%.2f\", $RL/$RP}")"
  echo
  echo "rounds: HTTP->AMQP $SEND_L; proton send $SEND_P; AMQP->HTTP $RECV_L; proton receive $RECV_P"
  echo "non-2xx or socket errors of wrk, all rounds: $ERRORS"
} | tee "$out"
echo "results written to $out" >&2
