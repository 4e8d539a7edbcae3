#!/usr/bin/env bash
# The JS package in headless Chromium: Debian's `chromium` (installed with apt-get when missing)
# driven by npm playwright-core (pinned, in the tool cache; its own browser download is never
# used); js/browser/index.html is served over loopback with the example baked beside it, and
# js/browser/test.mjs compares its answers with the native engine's.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
source scripts/chromium.sh
set -euo pipefail
AUTHZ="${AUTHZ_BIN:-$CARGO_TARGET_DIR/debug/authz}"
scratch
mkdir -p "$WORK/js/browser" "$WORK/js/glue"
cp js/index.js "$WORK/js/"
cp js/glue/authz.js "$WORK/js/glue/"
cp js/browser/index.html "$WORK/js/browser/"
"$AUTHZ" bake --policies policies/example --skip-tests --out "$WORK/js/browser/example.wasm" > /dev/null
PORT="$(free_port)"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK" > "$WORK/http.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  if curl -sf "127.0.0.1:$PORT/js/browser/index.html" > /dev/null; then break; fi
  sleep 0.1
done
echo "$("$AUTHZ_CHROMIUM" --version 2>/dev/null | head -n 1), page on 127.0.0.1:$PORT"
PAGE_URL="http://127.0.0.1:$PORT/js/browser/index.html" AUTHZ_BIN="$AUTHZ" node --test js/browser/test.mjs
