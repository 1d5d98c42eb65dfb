# Shared by the bench/*/run.sh scripts that source it (after setting ECHO, TMP and PIDS).

# Starts the echo backend on a free port: sets ECHO_PORT, adds its pid to PIDS.
start_echo() {
  # shellcheck disable=SC2086  # ECHO_ARGS: more options, word-split on purpose
  "$ECHO" --address 127.0.0.1 --port 0 ${ECHO_ARGS:-} >"$TMP/echo.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q '^listening on ' "$TMP/echo.out" && break; sleep 0.05; done
  ECHO_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/echo.out")
  [[ -n $ECHO_PORT ]] || { echo "run.sh: the echo backend did not start" >&2; exit 2; }
}

# wrk's output on stdin -> non-2xx answers plus socket errors.
wrk_errors() {
  awk '/Non-2xx/ {n=$5} /Socket errors/ {for (i=3;i<=NF;i++) {v=$i; gsub(/[^0-9]/, "", v); s+=v}} END {print n+s}'
}

# The median of whitespace-separated numbers.
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
