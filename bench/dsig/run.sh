#!/usr/bin/env bash
# Signature rates: lienthong's enveloped sign and verify (2 KB and 100 KB SOAP dossiers,
# RSA-2048 and P-256) beside `openssl speed` for the same keys, the bound: a document
# signature is one raw signature plus canonicalisation, digests and XML work.
# Single thread on both sides. Medians of REPS repetitions.
#   bench/dsig/run.sh                     (REPS=5, BUILD=build, RESULTS=bench/results)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
REPS=${REPS:-5}
RESULTS=${RESULTS:-bench/results}
BENCH=$BUILD/bench/lienthong-dsig-bench
[[ -x $BENCH ]] || { echo "run.sh: $BENCH not built (./deploy/build.sh)" >&2; exit 2; }
[[ -f $BUILD/tests/pki/agency-key.pem ]] || { echo "run.sh: no test PKI in $BUILD/tests/pki (ninja test_pki)" >&2; exit 2; }
mkdir -p "$RESULTS"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== openssl speed (rsa2048, ecdsap256), 3 s each" >&2
openssl speed -seconds 3 -mr rsa2048 ecdsap256 >"$TMP/openssl.txt" 2>/dev/null
# -mr lines: +F2:<n>:<bits>:<signs/s>:<verifies/s> (RSA), +F4:<n>:<bits>:<signs/s>:<verifies/s> (ECDSA)
read -r RSA_SIGN RSA_VERIFY < <(awk -F: '/^\+F2:/ {printf "%.0f %.0f\n", $4, $5}' "$TMP/openssl.txt")
read -r EC_SIGN EC_VERIFY < <(awk -F: '/^\+F4:/ {printf "%.0f %.0f\n", $4, $5}' "$TMP/openssl.txt")

echo "== lienthong-dsig-bench, $REPS repetitions" >&2
"$BENCH" --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true \
  --benchmark_format=csv >"$TMP/bench.csv" 2>/dev/null

stamp=$(date '+%Y%m%d-%H%M%S')
out=$RESULTS/dsig-$stamp.txt
{
  echo "lienthong signature benchmark beside openssl speed, $(date '+%Y-%m-%d %H:%M:%S %z')"
  echo "host: $(uname -n), $(nproc) cores, $(uname -sr); $(openssl version)"
  echo "revision: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); one thread each; median of $REPS"
  echo
  printf '%-7s %-9s %8s %14s %14s %7s %10s\n' op key bytes "lienthong/s" "openssl/s" ratio "median µs"
  # csv: name,iterations,real_time,cpu_time,time_unit,...; name like BM_Sign/bytes:2048/ec:0_median
  grep '_median' "$TMP/bench.csv" | tr -d '"' | while IFS=, read -r name _ real _ unit _; do
    op=${name%%/*}; op=${op#BM_}
    bytes=$(sed -E 's/.*bytes:([0-9]+).*/\1/' <<<"$name")
    ec=$(sed -E 's/.*ec:([0-9]+).*/\1/' <<<"$name")
    case $unit in ns) us=$(awk "BEGIN{print $real/1000}") ;; us) us=$real ;; ms) us=$(awk "BEGIN{print $real*1000}") ;; *) us=$real ;; esac
    rate=$(awk "BEGIN{printf \"%.0f\", 1000000/$us}")
    if [[ $ec == 1 ]]; then key=P-256; else key=RSA-2048; fi
    if [[ $op == Sign ]]; then
      [[ $ec == 1 ]] && bound=$EC_SIGN || bound=$RSA_SIGN
    else
      [[ $ec == 1 ]] && bound=$EC_VERIFY || bound=$RSA_VERIFY
    fi
    ratio=$(awk "BEGIN{printf \"%.2f\", $rate/$bound}")
    printf '%-7s %-9s %8s %14s %14s %7s %10.1f\n' "$op" "$key" "$bytes" "$rate" "$bound" "$ratio" "$us"
  done
  echo
  echo "openssl speed -mr:"
  grep '^+F' "$TMP/openssl.txt"
} | tee "$out"
echo "results written to $out" >&2
