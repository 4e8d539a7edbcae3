// The edge function under the real workerd (scripts/workerd-test.sh starts it): its answers to
// the example request and to 120 generated checks (4 requests of 30 resources: principals,
// roles, departments, owners and statuses varied) equal the native engine's (`authz check`),
// bundle digest included; a malformed request is a 400 naming the field.
// WORKERD_URL: the worker's address; AUTHZ_BIN: the authz binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const url = process.env.WORKERD_URL;
const NOW = '2026-12-01T12:00:00Z';

const native = (request) =>
  JSON.parse(
    execFileSync(process.env.AUTHZ_BIN, ['check', '--policies', `${root}policies/example`, '--now', NOW], {
      input: JSON.stringify(request),
    }),
  );

async function worker(request) {
  const r = await fetch(`${url}/api/check/resources`, { method: 'POST', body: JSON.stringify(request) });
  return { status: r.status, body: await r.json() };
}

/** Four requests of 30 resources each, from a fixed seed. */
function generated() {
  let seed = 7;
  const pick = (xs) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return xs[seed % xs.length];
  };
  const requests = [];
  for (let r = 0; r < 4; r++) {
    const principal = {
      id: pick(['alice', 'bob', 'carol']),
      roles: pick([['user'], ['user', 'manager'], ['admin'], ['user', 'finance']]),
      attr: { department: pick(['finance', 'sales', 'hr']) },
    };
    const resources = [];
    for (let i = 0; i < 30; i++) {
      const kind = pick(['document', 'document', 'api_endpoint']);
      const attr =
        kind === 'document'
          ? { owner: pick(['alice', 'bob', 'carol']), department: pick(['finance', 'sales']), status: pick(['DRAFT', 'PENDING_APPROVAL', 'APPROVED']), size: pick([1, 10, 1000]) }
          : { path: pick(['/refunds', '/reports', '/admin']), method: pick(['GET', 'POST']) };
      resources.push({ actions: pick([['view'], ['view', 'edit'], ['approve', 'delete'], ['invoke']]), resource: { kind, id: `r${r}-${i}`, attr } });
    }
    requests.push({ requestId: `gen-${r}`, principal, resources, includeMeta: true, authzOptions: undefined });
  }
  return requests;
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
