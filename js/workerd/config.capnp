# workerd configuration for the edge-function test (the clock pinned by NOW, as the test's
# native answers are) (scripts/workerd-test.sh copies this, the
# worker, the package and the example's core module into one directory and runs it there).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "index.js", esModule = embed "index.js"),
    (name = "glue/authz.js", esModule = embed "glue/authz.js"),
    (name = "pdp.wasm", wasm = embed "pdp.wasm"),
  ],
  bindings = [(name = "NOW", text = "2026-12-01T12:00:00Z")],
  compatibilityDate = "2025-01-01",
);
