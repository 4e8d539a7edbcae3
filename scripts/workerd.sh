# Sourced: installs workerd (npm, pinned, in the tool cache) and exports AUTHZ_WORKERD, the
# binary the edge-function tests run (scripts/workerd-test.sh, and the HTTP API tests in
# tests/tests/http_server.rs, which serve the worker as one more host).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
npm_tool npm-workerd workerd@1.20261117.1
export AUTHZ_WORKERD="$TOOLS/npm-workerd/node_modules/.bin/workerd"
