#!/usr/bin/env bash
# Direct-proxy benchmark: lienthongd HTTP->HTTP pass-through against nginx proxy_pass
# (upstream keep-alive), both in front of the same lienthong-echo backend, measured with
# wrk in the same run. See bench/README.md.
#
# Usage: bench/proxy/run.sh [NAME=value ...]   (or the same names as environment variables)
#   LIENTHONGD     daemon binary          (default <repo>/build/apps/lienthongd/lienthongd)
#   ECHO           echo backend binary    (default <repo>/build/bench/lienthong-echo)
#   NGINX          nginx binary           (default: nginx on PATH, else /usr/sbin/nginx)
#   DURATION       wrk -d per run         (default 10s)
#   ROUNDS         runs per cell; the median is reported (default 3)
#   SIZES          request body sizes in bytes (default "1024 10240")
#   CONNS          wrk connection counts  (default "20 80")
#   THREADS        wrk -t                 (default 2)
#   WARMUP         warm-up run per proxy before measuring, 0 = none (default 2s)
#   ONLY           nginx | lienthong: measure only that proxy (default: both)
#   RESULTS        results folder         (default <repo>/bench/results)
#   START_TIMEOUT  seconds each process gets to accept connections (default 15)
#   KEEP_TMP       1 = keep the temp dir (configs, logs, raw wrk output)
#   SCENARIO       what lienthongd does on the way (default proxy):
#                    proxy  pass-through, body of 'x' bytes
#                    cbr    content-based routing: XPath on a SOAP body chooses the backend path
#                    xslt   an XSLT transform of the SOAP body, then to the backend
#                    dsig   verify the SOAP body's signature (P-256, chain to the test CA),
#                           strip it, sign anew with the node's RSA-2048 key, then to the backend
#                  cbr, xslt and dsig post a SOAP envelope of the given size (dsig: signed,
#                  default SIZES "2048 102400"); nginx stays the plain proxy_pass of the
#                  same body (the bound)
#   AUDIT          1 = lienthongd keeps an embedded store and its audit chain (each
#                  exchange leaves a record, checkpoints signed with the test PKI's key
#                  every minute); 0 = no store (default)
#   PKI            dsig, AUDIT: the test PKI folder  (default <repo>/build/tests/pki)
#   LIENTHONGCTL   dsig: signs the bodies     (default <repo>/build/apps/lienthongctl/lienthongctl)
# Exit status: 0 when every measured run completed without socket errors or non-2xx/3xx
# answers, 1 otherwise, 2 on a usage or set-up error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    LIENTHONGD=* | ECHO=* | NGINX=* | DURATION=* | ROUNDS=* | SIZES=* | CONNS=* | THREADS=* | \
      WARMUP=* | ONLY=* | RESULTS=* | START_TIMEOUT=* | KEEP_TMP=* | SCENARIO=* | PKI=* | \
      LIENTHONGCTL=* | AUDIT=*)
      declare "$arg" ;;
    *) echo "run.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

LIENTHONGD=${LIENTHONGD:-$ROOT/build/apps/lienthongd/lienthongd}
ECHO=${ECHO:-$ROOT/build/bench/lienthong-echo}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
SCENARIO=${SCENARIO:-proxy}
if [[ $SCENARIO == dsig ]]; then SIZES=${SIZES:-2048 102400}; else SIZES=${SIZES:-1024 10240}; fi
PKI=${PKI:-$ROOT/build/tests/pki}
LIENTHONGCTL=${LIENTHONGCTL:-$ROOT/build/apps/lienthongctl/lienthongctl}
CONNS=${CONNS:-20 80}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
ONLY=${ONLY:-}
RESULTS=${RESULTS:-$ROOT/bench/results}
START_TIMEOUT=${START_TIMEOUT:-15}
KEEP_TMP=${KEEP_TMP:-0}
AUDIT=${AUDIT:-0}
case $SCENARIO in proxy | cbr | xslt | dsig) ;; *) echo "run.sh: SCENARIO must be proxy, cbr, xslt or dsig" >&2; exit 2 ;; esac
if [[ $SCENARIO == dsig ]]; then
  [[ -f $PKI/agency-key.pem ]] || { echo "run.sh: no test PKI in $PKI (ninja -C build test_pki)" >&2; exit 2; }
  [[ -x $LIENTHONGCTL ]] || { echo "run.sh: $LIENTHONGCTL not built" >&2; exit 2; }
fi

die() { echo "run.sh: $*" >&2; exit 2; }
log() { echo "== $*" >&2; }

case $ONLY in
  "") TARGETS=(nginx lienthong) ;;
  nginx | lienthong) TARGETS=("$ONLY") ;;
  *) die "ONLY must be nginx or lienthong, not '$ONLY'" ;;
esac
wants() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer"
for s in $SIZES; do [[ $s =~ ^[0-9]+$ ]] || die "SIZES must be byte counts, not '$s'"; done
for c in $CONNS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNS must be positive integers, not '$c'"; done
for c in $CONNS; do ((c >= THREADS)) || die "each of CONNS must be >= THREADS ($THREADS)"; done
for tool in wrk curl cmp awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ -x $ECHO ]] || die "echo backend not found: $ECHO (build the lienthong-echo target)"
if wants nginx; then [[ -x $NGINX ]] || die "nginx not found: $NGINX"; fi
if wants lienthong; then
  [[ -x $LIENTHONGD ]] || die "lienthongd not found: $LIENTHONGD (build it, or ONLY=nginx)"
fi

# ---------------------------------------------------------------- processes and clean-up
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lienthong-bench.XXXXXX")
PIDS=()
WRK_PID=""

# wrk runs in the background and is waited for, so that INT/TERM reach the traps at once.
wait_wrk() {
  WRK_PID=$1
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  return "$rc"
}

cleanup() {
  local pid i
  if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; fi
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $KEEP_TMP == 1 ]]; then echo "run.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A loopback port nobody listens on, below the ephemeral range (32768+) so that wrk's and
# the proxies' outgoing connections cannot take it between this check and the bind.
# Sets variable $1 to the port.
USED_PORTS=" "
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    [[ $USED_PORTS == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# Waits until `url` answers HTTP (any status) while process `pid` lives.
wait_http() {
  local name=$1 pid=$2 url=$3 logfile=$4
  local deadline=$((SECONDS + START_TIMEOUT))
  until curl -s -o /dev/null --max-time 1 "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $name exited during start-up; its log:" >&2
      tail -n 30 "$logfile" >&2 || true
      exit 2
    fi
    if ((SECONDS >= deadline)); then
      echo "run.sh: $name did not accept connections on $url within ${START_TIMEOUT}s; its log:" >&2
      tail -n 30 "$logfile" >&2 || true
      exit 2
    fi
    sleep 0.1
  done
}

# POSTs a 10 KB body once and checks that the same bytes come back.
check_echo() {
  local name=$1 url=$2
  if ! curl -sS --fail --max-time 10 -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/check.bin" -o "$TMP/check-$name.out" "$url"; then
    die "POST through $name ($url) failed"
  fi
  if [[ $SCENARIO == xslt && $name == lienthongd ]]; then
    grep -q '<TienDo' "$TMP/check-$name.out" || die "POST through $name ($url) was not transformed"
  elif [[ $SCENARIO == dsig && $name == lienthongd ]]; then
    grep -q '<ds:SignatureValue>' "$TMP/check-$name.out" || die "POST through $name ($url) was not signed"
    "$LIENTHONGCTL" verify --config "$TMP/sign.yaml" --trust bench "$TMP/check-$name.out" >/dev/null ||
      die "the answer of $name ($url) does not verify"
    ! cmp -s "$TMP/check.bin" "$TMP/check-$name.out" || die "POST through $name ($url) was not signed anew"
  else
    cmp -s "$TMP/check.bin" "$TMP/check-$name.out" || die "POST through $name ($url) did not echo the body"
  fi
}

alive() {
  local name=$1 pid=$2 logfile=$3
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: $name died during the benchmark; its log:" >&2
    tail -n 30 "$logfile" >&2 || true
    exit 1
  fi
}

# A SOAP envelope of about $2 bytes carrying a dossier with attachment entries.
soap_body() {
  python3 - "$1" "$2" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2])
head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<h:HoSo xmlns:h="urn:lienthong:hoso:1"><h:MaHoSo>000.00.01.H22-240315-0001</h:MaHoSo>'
        '<h:TrangThai>4</h:TrangThai><h:ChuHoSo>Nguyễn Văn An</h:ChuHoSo>')
tail = '</h:HoSo></s:Body></s:Envelope>'
item = '<h:TaiLieu><h:Ten>Giấy tờ kèm theo</h:Ten><h:So>{}</h:So></h:TaiLieu>'
parts, n = [head], 0
while len(''.join(parts).encode()) + len(tail) + 80 < size:
    n += 1
    parts.append(item.format(n))
text = ''.join(parts)
pad = size - len(text.encode()) - len(tail) - len('<h:GhiChu></h:GhiChu>')
text += '<h:GhiChu>' + 'x' * max(pad, 0) + '</h:GhiChu>' + tail
open(path, 'w', encoding='utf-8').write(text)
PY
}

# dsig: the sender's signature on a body (P-256 key of the test PKI).
sign_body() {
  "$LIENTHONGCTL" sign --config "$TMP/sign.yaml" --key sender --out "$1.signed" "$1" ||
    die "cannot sign $1"
  mv "$1.signed" "$1"
}
if [[ $SCENARIO == dsig ]]; then
  cat >"$TMP/sign.yaml" <<EOF
home: $PKI
keys:
  sender: { key: ec-key.pem, cert: ec-chain.pem }
trust:
  bench: { ca: root.pem }
EOF
fi

if [[ $SCENARIO == proxy ]]; then
  head -c 10240 /dev/urandom >"$TMP/check.bin"
else
  soap_body "$TMP/check.bin" 10240
  if [[ $SCENARIO == dsig ]]; then sign_body "$TMP/check.bin"; fi
fi
MAX_SIZE=0
for s in $SIZES; do if ((s > MAX_SIZE)); then MAX_SIZE=$s; fi; done

# ---------------------------------------------------------------- echo backend
"$ECHO" --address 127.0.0.1 --port 0 >"$TMP/echo.out" 2>"$TMP/echo.err" &
ECHO_PID=$!
PIDS+=("$ECHO_PID")
deadline=$((SECONDS + START_TIMEOUT))
until grep -q '^listening on ' "$TMP/echo.out"; do
  kill -0 "$ECHO_PID" 2>/dev/null || { cat "$TMP/echo.err" >&2; die "echo backend exited"; }
  ((SECONDS < deadline)) || die "echo backend did not report its port"
  sleep 0.05
done
ECHO_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/echo.out" | head -n 1)
[[ -n $ECHO_PORT ]] || die "cannot read the echo port from: $(cat "$TMP/echo.out")"
check_echo echo "http://127.0.0.1:$ECHO_PORT/echo"
log "echo backend on 127.0.0.1:$ECHO_PORT"

declare -A URL PID LOGF

# ---------------------------------------------------------------- nginx
if wants nginx; then
  free_port NGINX_PORT
  mkdir -p "$TMP/nginx"
  body_buf=$((MAX_SIZE > 65536 ? MAX_SIZE : 65536))
  user_line=""
  if ((EUID == 0)); then user_line="user root;"; fi  # workers must reach the temp dirs under $TMP
  cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process on;
$user_line
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/client_body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  client_body_buffer_size $body_buf;
  client_max_body_size 10m;
  proxy_buffer_size 16k;
  proxy_buffers 16 16k;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream backend {
    server 127.0.0.1:$ECHO_PORT;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /echo {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  "$NGINX" -e "$TMP/nginx/error.log" -p "$TMP" -c "$TMP/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
  PID[nginx]=$!
  PIDS+=("${PID[nginx]}")
  LOGF[nginx]=$TMP/nginx/error.log
  URL[nginx]=http://127.0.0.1:$NGINX_PORT/echo
  wait_http nginx "${PID[nginx]}" "${URL[nginx]}" "${LOGF[nginx]}"
  check_echo nginx "${URL[nginx]}"
  log "nginx on 127.0.0.1:$NGINX_PORT"
fi

# ---------------------------------------------------------------- lienthongd
# The listener port is chosen here (free_port) and written into the config, so the
# script knows it without asking the daemon.
if wants lienthong; then
  free_port LT_PORT
  mkdir -p "$TMP/lienthong/routes"
  cat >"$TMP/lienthong/lienthong.yaml" <<EOF
home: .
log: { level: warn }
engine:
  workers: 64
  queue: 4096
listeners:
  bench:
    http:
      address: 127.0.0.1
      port: $LT_PORT
      threads: 256
connections:
  echo:
    http:
      url: http://127.0.0.1:$ECHO_PORT
      pool: 256
routes: [ routes ]
EOF
  if [[ $SCENARIO == dsig || $AUDIT == 1 ]]; then
    cat >>"$TMP/lienthong/lienthong.yaml" <<EOF
keys:
  node: { key: $PKI/agency-key.pem, cert: $PKI/agency-chain.pem }
trust:
  senders: { ca: $PKI/root.pem }
EOF
  fi
  if [[ $AUDIT == 1 ]]; then
    cat >>"$TMP/lienthong/lienthong.yaml" <<EOF
store: { path: var/lienthong.db }
audit: { key: node, checkpoint-every: 1m }
EOF
  fi
  case $SCENARIO in
    proxy)
      cat >"$TMP/lienthong/routes/echo.yaml" <<'EOF'
routes:
  - id: bench-echo
    description: Pass-through to the echo backend (bench/proxy/run.sh)
    pattern: request-reply
    from: { http: { listener: bench, path: /echo, methods: [POST] } }
    to: { http: { connection: echo, path: /echo } }
EOF
      ;;
    cbr)
      cat >"$TMP/lienthong/routes/echo.yaml" <<'EOF'
namespaces: { s: "http://schemas.xmlsoap.org/soap/envelope/", h: "urn:lienthong:hoso:1" }
routes:
  - id: bench-cbr
    description: Content-based routing on a SOAP body XPath (bench/proxy/run.sh)
    pattern: request-reply
    from: { http: { listener: bench, path: /echo, methods: [POST] } }
    steps:
      - choice:
          - when: "/s:Envelope/s:Body/h:HoSo/h:TrangThai = '4'"
            steps: [ { to: { http: { connection: echo, path: /echo } } } ]
          - otherwise:
            steps: [ { to: { http: { connection: echo, path: /other } } } ]
EOF
      ;;
    dsig)
      cat >"$TMP/lienthong/routes/echo.yaml" <<'EOF'
routes:
  - id: bench-dsig
    description: Verify on the way in, sign on the way out (bench/proxy/run.sh)
    pattern: request-reply
    from: { http: { listener: bench, path: /echo, methods: [POST] } }
    steps:
      - verify: { trust: senders, strip: true }
      - sign: { key: node }
    to: { http: { connection: echo, path: /echo } }
EOF
      ;;
    xslt)
      cat >"$TMP/lienthong/tien-do.xsl" <<'EOF'
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:h="urn:lienthong:hoso:1"
    exclude-result-prefixes="s h">
  <xsl:template match="/">
    <TienDo ma="{s:Envelope/s:Body/h:HoSo/h:MaHoSo}">
      <TrangThai><xsl:value-of select="s:Envelope/s:Body/h:HoSo/h:TrangThai"/></TrangThai>
      <xsl:for-each select="s:Envelope/s:Body/h:HoSo/h:TaiLieu">
        <TaiLieu so="{h:So}"><xsl:value-of select="h:Ten"/></TaiLieu>
      </xsl:for-each>
    </TienDo>
  </xsl:template>
</xsl:stylesheet>
EOF
      cat >"$TMP/lienthong/routes/echo.yaml" <<'EOF'
routes:
  - id: bench-xslt
    description: XSLT transform, then to the echo backend (bench/proxy/run.sh)
    pattern: request-reply
    from: { http: { listener: bench, path: /echo, methods: [POST] } }
    steps:
      - transform: { xslt: tien-do.xsl }
    to: { http: { connection: echo, path: /echo } }
EOF
      ;;
  esac
  (cd "$TMP/lienthong" && exec "$LIENTHONGD" --config "$TMP/lienthong/lienthong.yaml") \
    >"$TMP/lienthong/lienthongd.log" 2>&1 &
  PID[lienthong]=$!
  PIDS+=("${PID[lienthong]}")
  LOGF[lienthong]=$TMP/lienthong/lienthongd.log
  URL[lienthong]=http://127.0.0.1:$LT_PORT/echo
  wait_http lienthongd "${PID[lienthong]}" "http://127.0.0.1:$LT_PORT/" "${LOGF[lienthong]}"
  check_echo lienthongd "${URL[lienthong]}"
  log "lienthongd on 127.0.0.1:$LT_PORT"
fi

# ---------------------------------------------------------------- wrk
for s in $SIZES; do
  if [[ $SCENARIO == proxy ]]; then
    cat >"$TMP/post-$s.lua" <<EOF
wrk.method = "POST"
wrk.body = string.rep("x", $s)
wrk.headers["Content-Type"] = "application/octet-stream"
EOF
  else
    soap_body "$TMP/body-$s.xml" "$s"
    if [[ $SCENARIO == dsig ]]; then sign_body "$TMP/body-$s.xml"; fi
    cat >"$TMP/post-$s.lua" <<EOF
wrk.method = "POST"
local f = io.open("$TMP/body-$s.xml", "rb")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
EOF
  fi
done

# Parses one wrk output: prints "req/s p99_ms errors requests".
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
      if (v ~ /h$/)  { sub(/h$/, "", v);  return v * 3600000 }
      return -1
    }
    BEGIN { rps = 0; p99 = -1; err = 0; n = 0 }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    / requests in / { n = $1 }
    END { printf "%.2f %.3f %d %d\n", rps, p99, err, n }
  ' "$1"
}

median() {
  tr ' ' '\n' | awk 'NF' | sort -g |
    awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

declare -A RPS P99
FAILED=()
DETAILS=()

run_wrk() {
  local target=$1 size=$2 conns=$3 round=$4
  local out="$TMP/wrk-$target-$size-$conns-$round.txt" rc=0
  wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency -s "$TMP/post-$size.lua" \
    "${URL[$target]}" >"$out" 2>&1 &
  wait_wrk $! || rc=$?
  alive "$target" "${PID[$target]}" "${LOGF[$target]}"
  local rps p99 err n
  read -r rps p99 err n < <(parse_wrk "$out")
  if ((rc != 0 || err != 0 || n == 0)); then
    FAILED+=("$target size=$size conns=$conns round=$round: wrk exit $rc, $err errors, $n requests")
    cp "$out" "$RESULTS_DIR_TMP/failed-$target-$size-$conns-$round.txt"
  fi
  local key="$target $size $conns"
  RPS[$key]+="$rps "
  P99[$key]+="$p99 "
  DETAILS+=("$(printf '%-9s %6s %5s  round %d  %10.0f req/s  p99 %8.2f ms  errors %d' \
    "$target" "$size" "$conns" "$round" "$rps" "$p99" "$err")")
  log "$(printf '%-9s size %6s conns %4s round %d: %10.0f req/s, p99 %.2f ms, %d errors' \
    "$target" "$size" "$conns" "$round" "$rps" "$p99" "$err")"
}

RESULTS_DIR_TMP=$TMP/failed
mkdir -p "$RESULTS_DIR_TMP"
max_conns=0
for c in $CONNS; do if ((c > max_conns)); then max_conns=$c; fi; done
first_size=${SIZES%% *}

if [[ $WARMUP != 0 ]]; then
  for target in "${TARGETS[@]}"; do
    log "warm-up $target ($WARMUP, $max_conns connections)"
    wrk -t"$THREADS" -c"$max_conns" -d"$WARMUP" -s "$TMP/post-$first_size.lua" \
      "${URL[$target]}" >"$TMP/warmup-$target.txt" 2>&1 &
    wait_wrk $! || true
    alive "$target" "${PID[$target]}" "${LOGF[$target]}"
  done
fi

for size in $SIZES; do
  for conns in $CONNS; do
    for ((round = 1; round <= ROUNDS; round++)); do
      # Alternate which proxy goes first so that drift (heat, other load) hits both alike.
      order=("${TARGETS[@]}")
      if ((round % 2 == 0 && ${#TARGETS[@]} == 2)); then order=("${TARGETS[1]}" "${TARGETS[0]}"); fi
      for target in "${order[@]}"; do run_wrk "$target" "$size" "$conns" "$round"; done
    done
  done
done

# ---------------------------------------------------------------- report
cell() {  # median req/s and p99 of a target, or "-" when not measured
  local key="$1 $2 $3"
  if wants "$1"; then
    echo "$(median <<<"${RPS[$key]}") $(median <<<"${P99[$key]}")"
  else
    echo "- -"
  fi
}

mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
suffix=""
if [[ -n $ONLY ]]; then suffix="-$ONLY-only"; fi
if [[ $AUDIT == 1 ]]; then suffix="$suffix-audit"; fi
RESULT_FILE=$RESULTS/$SCENARIO-$stamp$suffix.txt
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true)
wrk_version=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }' || true)

{
  echo "lienthong $SCENARIO benchmark (nginx: plain proxy_pass), $(date '+%Y-%m-%d %H:%M:%S %z')"
  echo "host: $(uname -n), ${cpu:-unknown cpu}, $(nproc) cores, $(uname -sr)"
  echo "revision: $rev; nginx $nginx_version; wrk $wrk_version"
  echo "wrk -t$THREADS -d$DURATION, POST /echo, median of $ROUNDS rounds (proxies alternated), warm-up $WARMUP"
  echo "backend: lienthong-echo (2 threads); nginx: 2 workers, upstream keepalive 128; lienthongd: listener threads 256, pool 256, engine workers 64"
  if [[ -n $ONLY ]]; then echo "ONLY=$ONLY: the other proxy was not measured"; fi
  if [[ $AUDIT == 1 ]]; then echo "AUDIT=1: lienthongd with an embedded store and its audit chain (a record per exchange)"; fi
  echo
  printf '%7s %6s %12s %11s %14s %13s %7s\n' size conns "nginx req/s" "nginx p99ms" "lienthong req/s" "lienthong p99ms" ratio
  for size in $SIZES; do
    for conns in $CONNS; do
      read -r n_rps n_p99 < <(cell nginx "$size" "$conns")
      read -r l_rps l_p99 < <(cell lienthong "$size" "$conns")
      ratio=$(awk -v a="$l_rps" -v b="$n_rps" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }')
      awk -v s="$size" -v c="$conns" -v nr="$n_rps" -v np="$n_p99" -v lr="$l_rps" -v lp="$l_p99" -v r="$ratio" '
        function f(v, fmt) { return v == "-" ? "-" : sprintf(fmt, v) }
        BEGIN { printf "%7s %6s %12s %11s %14s %13s %7s\n", s, c, f(nr, "%.0f"), f(np, "%.2f"), f(lr, "%.0f"), f(lp, "%.2f"), r }'
    done
  done
  echo
  echo "runs:"
  for d in "${DETAILS[@]}"; do echo "  $d"; done
  if ((${#FAILED[@]} > 0)); then
    echo
    echo "FAILED runs (socket errors, non-2xx/3xx answers or wrk failure):"
    for f in "${FAILED[@]}"; do echo "  $f"; done
    for f in "$RESULTS_DIR_TMP"/failed-*.txt; do
      echo
      echo "--- $(basename "$f")"
      cat "$f"
    done
  fi
} | tee "$RESULT_FILE"

echo "results written to $RESULT_FILE" >&2
if ((${#FAILED[@]} > 0)); then
  echo "run.sh: ${#FAILED[@]} run(s) had errors" >&2
  exit 1
fi
