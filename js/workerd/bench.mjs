// workerd's numbers for BENCHMARKS.md (scripts/bench-runtimes.sh starts workerd, then this):
// from the process's start to its socket accepting (workerd compiles the wasm module while
// loading its config), the first request (the worker's module runs and the package instantiates
// the component, then decides) and warm requests (median of 200), all over loopback HTTP.
//   node js/workerd/bench.mjs HOST:PORT STARTED_AT_EPOCH_MS REQUEST.json
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

const [addr, startedAt, requestFile] = process.argv.slice(2);
const [host, port] = addr.split(':');
const request = readFileSync(requestFile, 'utf8');
const accepts = () =>
  new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
while (!(await accepts())) await new Promise((r) => setTimeout(r, 5));
const listening = Date.now() - Number(startedAt);
const post = async () => {
  const t = process.hrtime.bigint();
  const r = await fetch(`http://${addr}/api/check/resources`, { method: 'POST', body: request });
  if (r.status !== 200) throw new Error(`workerd answered ${r.status}: ${await r.text()}`);
  await r.arrayBuffer();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const first = await post();
const warm = [];
for (let i = 0; i < 200; i++) warm.push(await post());
warm.sort((a, b) => a - b);
console.log(`workerd: socket accepting ${listening} ms after start; first request (instantiation + decision) ${first.toFixed(1)} ms; warm request median ${warm[100].toFixed(2)} ms over loopback HTTP`);
