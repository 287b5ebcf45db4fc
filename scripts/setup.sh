#!/usr/bin/env bash
# Installs what Ambit needs on a fresh Debian machine (as root), idempotently: OS packages, npm packages, build.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(nftables iproute2 openssl ca-certificates protobuf-compiler python3-h2 curl tcpdump iperf3 wrk stunnel4 haproxy)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund 2>&1 | grep -v 'Unknown user config' || true
test -d node_modules/typescript || { echo "setup: npm ci failed" >&2; exit 1; }
npm run build --silent
