// Numbers for BENCHMARKS.md: the package in Node on a baked component (default: the example):
// instantiation (from bytes, and from a compiled core module) and a warm check through
// check-json, median of 21 batches.
//   node js/bench.mjs example.wasm
import { readFileSync } from 'node:fs';
import { PDP, coreModuleBytes } from './index.js';

const component = readFileSync(process.argv[2]);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const time = async (f, n) => {
  const batches = [];
  for (let b = 0; b < 21; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await f();
    batches.push(Number(process.hrtime.bigint() - t) / n / 1000);
  }
  return median(batches);
};
const request = JSON.stringify({
  requestId: 'bench',
  principal: { id: 'alice', roles: ['user'], attr: { department: 'finance' } },
  resources: [{ actions: ['view'], resource: { kind: 'document', id: 'doc-0', attr: { owner: 'alice', department: 'finance', status: 'DRAFT' } } }],
});
const module = await WebAssembly.compile(coreModuleBytes(component));
const fromBytes = await time(() => PDP.create({ component }), 5);
const fromModule = await time(() => PDP.create({ component: module }), 20);
const pdp = await PDP.create({ component: module, now: () => new Date('2026-12-01T12:00:00Z') });
const check = await time(() => pdp.checkJson(request), 2000);
console.log(`node ${process.version}: create from bytes ${fromBytes.toFixed(0)} µs, from a compiled module ${fromModule.toFixed(0)} µs, warm single check (check-json) ${check.toFixed(1)} µs`);
