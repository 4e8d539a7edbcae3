// Lays out a directory `workerd serve DIR/config.capnp` runs the edge function from: the worker
// (worker.js), the package (index.js, glue/authz.js), the baked component's core module as a
// wasm module (pdp.wasm: Workers compile no bytes at run time) and config.capnp with the given
// text bindings (see worker.js for the names it reads).
//
//   node js/workerd/prepare.mjs OUTDIR COMPONENT [NAME=VALUE ...]
//
// The socket comes from the command line: `workerd serve config.capnp --socket-addr
// http=127.0.0.1:8080`.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { coreModuleBytes } from '../index.js';

const [out, component, ...pairs] = process.argv.slice(2);
if (!out || !component) {
  console.error('usage: node js/workerd/prepare.mjs OUTDIR COMPONENT [NAME=VALUE ...]');
  process.exit(2);
}
const bindings = pairs.map((pair) => {
  const at = pair.indexOf('=');
  if (at < 1) {
    console.error(`a binding is NAME=VALUE, not \`${pair}\``);
    process.exit(2);
  }
  return [pair.slice(0, at), pair.slice(at + 1)];
});

const js = fileURLToPath(new URL('../', import.meta.url));
mkdirSync(`${out}/glue`, { recursive: true });
copyFileSync(`${js}workerd/worker.js`, `${out}/worker.js`);
copyFileSync(`${js}index.js`, `${out}/index.js`);
copyFileSync(`${js}glue/authz.js`, `${out}/glue/authz.js`);
writeFileSync(`${out}/pdp.wasm`, coreModuleBytes(readFileSync(component)));
// Cap'n Proto text: a JSON string literal is a valid one.
const text = bindings.map(([name, value]) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`);
writeFileSync(
  `${out}/config.capnp`,
  `using Workerd = import "/workerd/workerd.capnp";

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
  bindings = [${text.join(', ')}],
  compatibilityDate = "2025-01-01",
);
`,
);
