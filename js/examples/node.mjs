// The JS package in Node, runnable: decides the README's example request (Cerbos) and one
// AuthZEN evaluation with a baked component, printing each decision record as it is made.
//
//   authz bake --policies policies/example --out example.wasm
//   node js/examples/node.mjs example.wasm
import { readFileSync } from 'node:fs';
import { PDP } from '../index.js';

const component = readFileSync(process.argv[2] ?? 'example.wasm');
const pdp = await PDP.create({
  component,
  onDecision: (record) => console.log(`decision: ${record.action} on ${record.resourceId}: ${record.effect} (${record.policy}#${record.rule})`),
});
console.log(`bundle ${pdp.bundleInfo().digest} (${pdp.bundleInfo().policyCount} policies)`);

const request = JSON.parse(readFileSync(new URL('../../policies/example-request.json', import.meta.url), 'utf8'));
const response = pdp.checkResources(request);
console.log(`alice may view doc-1: ${response.isAllowed({ resource: { id: 'doc-1' }, action: 'view' })}`);
console.log(`alice may edit doc-1: ${response.isAllowed({ resource: { id: 'doc-1' }, action: 'edit' })}`);

const { decision } = pdp.evaluation({
  subject: { type: 'user', id: 'carol', properties: { 'cerbos.roles': ['user'], department: 'finance' } },
  resource: { type: 'document', id: 'doc-2', properties: { owner: 'bob', department: 'finance', status: 'DRAFT' } },
  action: { name: 'view' },
});
console.log(`AuthZEN: carol may view doc-2: ${decision}`);
