#!/usr/bin/env bash
# The demo entry for a fresh machine: puts `ambit` on PATH (/usr/local/bin) and runs `ambit demo` — a 2-node
# sandbox cluster with sample apps, enrolled in ambient mode, with a guided tour. `scripts/demo.sh --down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/src/main.js ] || { echo "demo: build missing; run ./scripts/setup.sh first" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then ln -sf "$PWD/bin/ambit.js" /usr/local/bin/ambit; fi
exec node "$PWD/bin/ambit.js" demo "$@"
