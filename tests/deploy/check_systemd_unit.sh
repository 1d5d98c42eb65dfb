#!/usr/bin/env bash
# Checks deploy/systemd/lienthongd.service with systemd-analyze verify, the daemon
# binary of this build standing in for the installed one. Any remark fails the check;
# without systemd-analyze the check is skipped (exit 77).
set -euo pipefail
unit=${1:?unit file}
daemon=${2:?lienthongd binary}
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/local/bin/lienthongd#$daemon#" "$unit" >"$tmp/lienthongd.service"
out=$(systemd-analyze verify "$tmp/lienthongd.service" 2>&1) || { echo "$out"; exit 1; }
# Remarks about the machine (no such user here, no network-online target) are not the
# unit's fault; anything else is.
remarks=$(grep -v -e "Failed to resolve user" -e "network-online.target" <<<"$out" || true)
if [ -n "$remarks" ]; then
  echo "$remarks"
  exit 1
fi
echo "ok: $unit"
