#!/usr/bin/env bash
# Installs every Debian 12 package lienthong needs to build, run, test and benchmark.
# Safe to run any number of times: it installs only what is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config ccache git clang-format
  # libraries
  libpoco-dev libyaml-cpp-dev libxml2-dev libxslt1-dev libxmlsec1-dev libssl-dev libicu-dev
  libsqlite3-dev libqpid-proton-cpp12-dev libpq-dev
  # the real peers of the tests: an AMQP 1.0 broker and PostgreSQL (started by the tests
  # themselves, in private folders; never as system services)
  rabbitmq-server postgresql
  # tests
  libgtest-dev libgmock-dev python3 python3-jsonschema python3-yaml openssl curl
  xmlsec1  # the reference tool the signature interop tests check against
  # benchmarks
  libbenchmark-dev nginx-light wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Without systemd (containers, CI) a package's service would be started by its install
# script and left running: forbid that while installing (the tests start their own).
POLICY=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -d /run/systemd/system ] && [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod +x "$POLICY"
  made_policy=yes
fi
cleanup_policy() { if [ -n "$made_policy" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup_policy EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
