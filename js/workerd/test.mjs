// The edge function under the real workerd (scripts/workerd-test.sh starts it): its answers to
// the example request and to 120 generated checks (4 requests of 30 resources: principals,
// roles, departments, owners and statuses varied) equal the native engine's (`authz check`),
// bundle digest included; a malformed request is a 400 naming the field.
// WORKERD_URL: the worker's address; AUTHZ_BIN: the authz binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generated, native } from '../test/common.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const url = process.env.WORKERD_URL;

async function worker(request) {
  const r = await fetch(`${url}/api/check/resources`, { method: 'POST', body: JSON.stringify(request) });
  return { status: r.status, body: await r.json() };
}

test('the example request: the same answer as the native engine', async () => {
  const request = JSON.parse(readFileSync(`${root}policies/example-request.json`, 'utf8'));
  request.auxData = undefined;
  const got = await worker({ ...request, requestId: 'workerd' });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, native({ ...request, requestId: 'workerd' }));
  assert.match(got.body.bundleDigest, /^sha256:/);
});

test('120 generated checks: the same answers as the native engine', async () => {
  let checks = 0;
  for (const request of generated()) {
    const got = await worker(request);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.deepEqual(got.body, native(request));
    checks += request.resources.length;
  }
  assert.equal(checks, 120);
});

test('a malformed request is a 400 naming the field', async () => {
  const got = await worker({ principal: { id: 'a', roles: [] }, resources: [{ resource: { kind: 'document', id: '1' }, actions: ['view'] }] });
  assert.equal(got.status, 400);
  assert.equal(got.body.path, '$.principal.roles');
});
