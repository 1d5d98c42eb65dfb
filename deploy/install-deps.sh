#!/usr/bin/env bash
# Installs every Debian 12 package lienthong needs to build, run, test and benchmark.
# Safe to run any number of times: it installs only what is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config ccache git clang-format
  # libraries
  libpoco-dev libyaml-cpp-dev libxml2-dev libxslt1-dev libxmlsec1-dev libssl-dev libicu-dev
  libsqlite3-dev
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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
