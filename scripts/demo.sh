#!/usr/bin/env bash
# The demo: starts an Ambit control plane in the background (data dir /var/lib/ambit unless AMBIT_DATA_DIR is
# set), applies the example manifests and shows what the mesh now holds. `scripts/demo.sh --down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DATA_DIR=${AMBIT_DATA_DIR:-/var/lib/ambit}
export AMBIT_DATA_DIR=$DATA_DIR
PIDFILE=$DATA_DIR/controlplane.pid
ambit() { node "$REPO/bin/ambit.js" "$@"; }
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-}" = "--down" ]; then
  if running; then kill "$(cat "$PIDFILE")"; echo "control plane (pid $(cat "$PIDFILE")) stopped"; else echo "no demo control plane running"; fi
  rm -f "$PIDFILE"
  exit 0
fi

[ -f dist/src/main.js ] || { echo "demo: build missing; run ./scripts/setup.sh first" >&2; exit 1; }
# Put `ambit` on PATH so the commands below can be typed as shown.
if [ "$(id -u)" = 0 ] && [ ! -e /usr/local/bin/ambit ]; then ln -s "$REPO/bin/ambit.js" /usr/local/bin/ambit; fi

mkdir -p "$DATA_DIR/logs" && chmod 700 "$DATA_DIR"
if running; then
  echo "==> control plane already running (pid $(cat "$PIDFILE"))"
else
  echo "==> starting the control plane (data dir $DATA_DIR, log $DATA_DIR/logs/controlplane.log)"
  nohup node "$REPO/bin/ambit.js" controlplane >>"$DATA_DIR/logs/controlplane.log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 100); do ambit version >/dev/null 2>&1 && break; sleep 0.1; done
  ambit version >/dev/null || { echo "demo: the control plane did not start; see $DATA_DIR/logs/controlplane.log" >&2; exit 1; }
fi
echo "==> ambit apply -f examples/bookinfo-lite"
ambit apply -f examples/bookinfo-lite
echo; echo "==> ambit get pods,svc -n demo"
ambit get pods,svc -n demo
echo; echo "==> ambit get authorizationpolicies,peerauthentications -A"
ambit get ap,pa -A
echo; echo "==> ambit ca show"
ambit ca show
cat <<MSG

The control plane keeps running (pid $(cat "$PIDFILE")). Try:
  ambit get ns --show-labels                  # namespaces (demo is labelled istio.io/dataplane-mode=ambient)
  ambit describe pod reviews-v1 -n demo       # object, status conditions, events
  ambit label ns demo istio.io/dataplane-mode=none --overwrite
  ambit get pods -A -o yaml
  curl -s localhost:15014/metrics | grep citadel_
Stop it with: scripts/demo.sh --down
MSG
