// Numbers for BENCHMARKS.md: the package in Node on a baked component: instantiation (from
// bytes, and from a compiled core module) and a warm check through checkJson (the package's
// path: the component's handle-http), median of 21 batches.
//   node js/bench.mjs example.wasm [request.json]
// tests/examples/runtimes.rs runs it beside the native engine and wasmtime on the same request
// (AUTHZ_BENCH_EXPECT: the native answer, compared before timing; AUTHZ_BENCH_CALLS: calls per
// batch).
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { PDP, coreModuleBytes } from './index.js';

const component = readFileSync(process.argv[2]);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// µs per call: the median of 21 batches of n calls (awaited only when `f` is async).
const time = async (f, n, awaited = true) => {
  const batches = [];
  for (let b = 0; b < 21; b++) {
    const t = process.hrtime.bigint();
    if (awaited) for (let i = 0; i < n; i++) await f();
    else for (let i = 0; i < n; i++) f();
    batches.push(Number(process.hrtime.bigint() - t) / n / 1000);
  }
  return median(batches);
};
const request = process.argv[3]
  ? readFileSync(process.argv[3], 'utf8')
  : JSON.stringify({
    requestId: 'bench',
    principal: { id: 'alice', roles: ['user'], attr: { department: 'finance' } },
    resources: [{ actions: ['view'], resource: { kind: 'document', id: 'doc-0', attr: { owner: 'alice', department: 'finance', status: 'DRAFT' } } }],
  });
const module = await WebAssembly.compile(coreModuleBytes(component));
const fromBytes = await time(() => PDP.create({ component }), 5);
const fromModule = await time(() => PDP.create({ component: module }), 20);
const pdp = await PDP.create({ component: module, now: () => new Date('2026-12-01T12:00:00Z') });
if (process.env.AUTHZ_BENCH_EXPECT && !isDeepStrictEqual(JSON.parse(pdp.checkJson(request)), JSON.parse(process.env.AUTHZ_BENCH_EXPECT))) {
  console.error(`node answered ${pdp.checkJson(request)}, the engine ${process.env.AUTHZ_BENCH_EXPECT}`);
  process.exit(1);
}
const check = await time(() => pdp.checkJson(request), Number(process.env.AUTHZ_BENCH_CALLS ?? 2000), false);
console.log(`node ${process.version}: create from bytes ${fromBytes.toFixed(0)} µs, from a compiled module ${fromModule.toFixed(0)} µs, warm single check (checkJson) median ${check.toFixed(2)} µs per call`);
