#!/usr/bin/env bash
# Installs what Ambit needs on a fresh Debian machine (as root), idempotently: OS packages, npm packages, build.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(nftables iproute2 openssl ca-certificates protobuf-compiler python3-h2 curl tcpdump iperf3 wrk stunnel4 haproxy containernetworking-plugins chromium prometheus)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# npm ci also builds the native addon; node-gyp's log (~40 lines) is kept for a failure, not shown on success.
npm_log=$(mktemp)
kube_log=$(mktemp)
trap 'rm -f "$npm_log" "$kube_log"' EXIT
npm_failure=''
npm ci --no-audit --no-fund >"$npm_log" 2>&1 || npm_failure="npm ci exited with status $?"
[ -n "$npm_failure" ] || [ -d node_modules/typescript ] || npm_failure='node_modules/typescript is missing after npm ci'
[ -n "$npm_failure" ] || [ -f native/build/Release/ambit_net.node ] || npm_failure='the native addon native/build/Release/ambit_net.node was not built'
[ -n "$npm_failure" ] || [ -x native/build/Release/ambit-cni ] || npm_failure='the CNI plugin executable native/build/Release/ambit-cni was not built (static linking needs libc6-dev)'
if [ -n "$npm_failure" ]; then
  grep -v 'Unknown user config' "$npm_log" >&2 || true
  echo "setup: $npm_failure (its output is above)" >&2
  exit 1
fi
npm run build --silent
# The real Kubernetes parts the e2e tests run (kube-apiserver, controller manager, scheduler, kubectl, etcd), built
# from the Go module proxy into a per-version cache: minutes when cold, an instant when cached. Log shown on failure.
if ! ./scripts/kube/build.sh >"$kube_log" 2>&1; then
  tail -n 200 "$kube_log" >&2
  echo "setup: building the Kubernetes test parts (scripts/kube/build.sh) failed (the end of its output is above)" >&2
  exit 1
fi
