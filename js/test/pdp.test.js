// The package in Node, on the example bundle: the same answers as the native engine (`authz
// check`), the bundle's digest on every response, Cerbos-client helpers, options, errors.
// AUTHZ_JS_COMPONENT: the example baked (`authz bake --policies policies/example`); AUTHZ_BIN:
// the authz binary (scripts/js-test.sh sets both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PDP, PDPError, coreModuleBytes } from '../index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const component = readFileSync(process.env.AUTHZ_JS_COMPONENT);
const request = JSON.parse(readFileSync(`${root}policies/example-request.json`, 'utf8'));
const NOW = '2026-12-01T12:00:00Z';

function native(req) {
  const out = execFileSync(process.env.AUTHZ_BIN, ['check', '--policies', `${root}policies/example`, '--now', NOW], {
    input: JSON.stringify(req),
  });
  return JSON.parse(out);
}

test('answers the example request as the native engine does, with the bundle digest', async () => {
  const pdp = await PDP.create({ component, now: () => new Date(NOW) });
  const got = pdp.checkResources(request);
  const want = native(request);
  assert.equal(got.bundleDigest, pdp.bundleInfo().digest);
  assert.match(got.bundleDigest, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(JSON.parse(JSON.stringify(got)), want);
  assert.equal(got.isAllowed({ resource: { id: 'doc-1' }, action: 'view' }), true);
  assert.equal(got.isAllowed({ resource: { id: 'doc-1' }, action: 'edit' }), false);
  assert.equal(got.findResult({ id: 'doc-1' }).isAllowed('approve'), true);
  assert.equal(got.findResult({ id: 'doc-1' }).isAllowed('not asked'), undefined);
});

test('checkResource and isAllowed', async () => {
  const pdp = await PDP.create({ component });
  const principal = { id: 'carol', roles: ['user'], attr: { department: 'finance' } };
  const resource = { kind: 'document', id: 'd9', attr: { owner: 'bob', department: 'finance', status: 'DRAFT' } };
  const one = pdp.checkResource({ principal, resource, actions: ['view', 'edit'] });
  const want = native({ principal, resources: [{ resource, actions: ['view', 'edit'] }] }).results[0].actions;
  assert.deepEqual(one.actions, want);
  assert.equal(pdp.isAllowed({ principal, resource, action: 'view' }), want.view === 'EFFECT_ALLOW');
  assert.equal(pdp.isAllowed({ principal, resource, action: 'edit' }), want.edit === 'EFFECT_ALLOW');
});

test('a compiled core module loads too (how Workers load it)', async () => {
  const module = await WebAssembly.compile(coreModuleBytes(component));
  const pdp = await PDP.create({ component: module });
  assert.equal(pdp.bundleInfo().policyCount, 5);
});

test('a malformed request is a PDPError naming the field, never an answer', async () => {
  const pdp = await PDP.create({ component });
  assert.throws(
    () => pdp.checkResources({ principal: { id: 'a', roles: [] }, resources: [{ resource: { kind: 'document', id: '1' }, actions: ['view'] }] }),
    (e) => e instanceof PDPError && e.path === '$.principal.roles',
  );
});

test('bytes that are no component are refused', async () => {
  await assert.rejects(PDP.create({ component: new Uint8Array([1, 2, 3]) }), /not a WebAssembly binary/);
  await assert.rejects(PDP.create({ component: coreModuleBytes(component) }), /not a component/);
  await assert.rejects(PDP.create({}), TypeError);
});
