# Sourced: installs what the Chromium tests need and exports where it is: Debian's `chromium`
# (apt-get, when missing) as AUTHZ_CHROMIUM, and npm playwright-core (pinned, in the tool cache;
# its own browser download is never used) as AUTHZ_PLAYWRIGHT_CORE (its package.json, for
# createRequire). Used by scripts/browser-test.sh and by the conformance harness's
# `chromium/js` runtime (tests/node/runtime.mjs --chromium).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
AUTHZ_CHROMIUM="${AUTHZ_CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$AUTHZ_CHROMIUM" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
  AUTHZ_CHROMIUM="$(command -v chromium)"
fi
export AUTHZ_CHROMIUM
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_tool npm-playwright playwright-core@1.65.1
export AUTHZ_PLAYWRIGHT_CORE="$TOOLS/npm-playwright/node_modules/playwright-core/package.json"
