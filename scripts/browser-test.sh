#!/usr/bin/env bash
# The JS package in headless Chromium: Debian's `chromium` (installed with apt-get when missing)
# driven by npm playwright-core (pinned, in the tool cache; its own browser download is never
# used); js/browser/index.html is served over loopback with the example baked beside it, and
# js/browser/test.mjs compares its answers with the native engine's.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
CHROMIUM="${AUTHZ_CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$CHROMIUM" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
  CHROMIUM="$(command -v chromium)"
fi
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_tool npm-playwright playwright-core@1.65.1
PLAYWRIGHT="$TOOLS/npm-playwright"
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
echo "$("$CHROMIUM" --version 2>/dev/null | head -n 1), page on 127.0.0.1:$PORT"
PAGE_URL="http://127.0.0.1:$PORT/js/browser/index.html" CHROMIUM="$CHROMIUM" AUTHZ_BIN="$AUTHZ" \
  PLAYWRIGHT_CORE="$PLAYWRIGHT/node_modules/playwright-core/package.json" node --test js/browser/test.mjs
