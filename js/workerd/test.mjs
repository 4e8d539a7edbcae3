// The edge function under the real workerd (scripts/workerd-test.sh starts it): its answers to
// the example request, to 120 generated checks (4 requests of 30 resources: principals, roles,
// departments, owners and statuses varied) and to AuthZEN evaluations and batches equal the
// native engine's (`authz check`), bundle digest included; refused requests get the native
// engine's error bodies. (tests/tests/http_server.rs runs the whole HTTP API suite against
// the worker too.)
// WORKERD_URL: the worker's address; AUTHZ_BIN: the authz binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { authzen, generated, native, nativeRefusal, refused } from '../test/common.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const url = process.env.WORKERD_URL;

async function worker(request, endpoint = '/api/check/resources') {
  const body = typeof request === 'string' ? request : JSON.stringify(request);
  const r = await fetch(`${url}${endpoint}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
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

test('AuthZEN evaluations and batches: the native engine\'s decisions', async () => {
  for (const [endpoint, request] of authzen()) {
    const got = await worker(request, endpoint);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.deepEqual(got.body, native(request, endpoint));
  }
});

test('refused requests: the native engine\'s error bodies', async () => {
  for (const [endpoint, text] of refused) {
    const got = await worker(text, endpoint);
    assert.ok(got.status === 400 || got.status === 413, `${got.status}`);
    assert.deepEqual(got.body, nativeRefusal(text, endpoint));
  }
});
