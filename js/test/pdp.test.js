// The package in Node, on the example bundle: the same answers as the native engine (`authz
// check`) for Cerbos and AuthZEN requests and for refusals, the bundle's digest on every
// response, Cerbos-client helpers, options, decision records, errors.
// AUTHZ_JS_COMPONENT: the example baked (`authz bake --policies policies/example`); AUTHZ_BIN:
// the authz binary (scripts/js-test.sh sets both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PDP, PDPError, coreModuleBytes } from '../index.js';
import { NOW, authzen, native, nativePlan, nativeRefusal, refused } from './common.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const component = readFileSync(process.env.AUTHZ_JS_COMPONENT);
const request = JSON.parse(readFileSync(`${root}policies/example-request.json`, 'utf8'));
const pinned = () => new Date(NOW);

test('answers the example request as the native engine does, with the bundle digest', async () => {
  const pdp = await PDP.create({ component, now: pinned });
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

test('planResources and planJson: the plan authz plan answers, with the digest', async () => {
  const pdp = await PDP.create({ component, now: pinned });
  const plan = {
    requestId: 'p1',
    actions: ['edit'],
    principal: { id: 'alice', roles: ['user'], attr: { department: 'finance' } },
    resource: { kind: 'document' },
    includeMeta: true,
  };
  const got = pdp.planResources(plan);
  assert.equal(got.bundleDigest, pdp.bundleInfo().digest);
  assert.deepEqual(got, nativePlan(plan));
  // The example's `owner-edit` rule: alice edits her own documents.
  assert.equal(got.meta.filterDebug, '(eq request.resource.attr.owner "alice")');
  assert.deepEqual(JSON.parse(pdp.planJson(JSON.stringify(plan))), got);
  assert.throws(() => pdp.planJson('{"actions":[]}'), (e) => e instanceof PDPError && e.status === 400);
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

test('AuthZEN evaluation and evaluations: the native engine\'s decisions', async () => {
  const pdp = await PDP.create({ component, now: pinned });
  let decisions = 0;
  for (const [endpoint, req] of authzen()) {
    const got = endpoint.endsWith('evaluation') ? pdp.evaluation(req) : pdp.evaluations(req);
    assert.deepEqual(got, native(req, endpoint), `${endpoint} ${JSON.stringify(req)}`);
    decisions += got.evaluations?.length ?? 1;
  }
  assert.ok(decisions >= 40, `${decisions} decisions`);
});

test('a refused request is a PDPError with the native engine\'s error body and status', async () => {
  const pdp = await PDP.create({ component, now: pinned });
  const statuses = new Set();
  for (const [endpoint, text] of refused) {
    const want = nativeRefusal(text, endpoint);
    const call = endpoint === '/api/check/resources'
      ? () => pdp.checkJson(text)
      : () => pdp.handle({ method: 'POST', path: endpoint, headers: { 'content-type': 'application/json' }, body: text });
    if (endpoint === '/api/check/resources') {
      assert.throws(call, (e) => {
        assert.ok(e instanceof PDPError, String(e));
        assert.deepEqual({ code: e.code, message: e.message, path: e.path }, want);
        statuses.add(e.status);
        return true;
      });
    } else {
      const answer = call();
      assert.deepEqual(JSON.parse(answer.body), want);
      statuses.add(answer.status);
    }
  }
  assert.deepEqual([...statuses].sort(), [400, 413]);
});

test('onDecision receives one record per decision; what it throws, the call throws', async () => {
  const records = [];
  const pdp = await PDP.create({ component, now: pinned, onDecision: (r) => records.push(r) });
  const response = pdp.checkResources(request);
  const asked = request.resources.flatMap((r) => r.actions.map((a) => [r.resource.id, a]));
  assert.deepEqual(records.map((r) => [r.resourceId, r.action]), asked);
  for (const r of records) {
    const result = response.findResult({ id: r.resourceId });
    assert.equal(r.effect, result.actions[r.action]);
    assert.equal(r.policy, result.meta.actions[r.action].matchedPolicy);
    assert.equal(r.bundleDigest, response.bundleDigest);
    assert.equal(r.requestId, 'readme-example');
    assert.equal(r.principalId, 'alice');
    assert.equal(r.runtime, 'js');
    assert.ok(r.durationMicros > 0, `${r.durationMicros}`);
  }
  assert.equal(records.find((r) => r.action === 'approve').rule, 'approve');
  records.length = 0;
  const [, evaluation] = authzen()[0];
  pdp.evaluation(evaluation);
  assert.equal(records.length, 1);
  assert.equal(records[0].resourceId, 'doc-1');

  const failing = await PDP.create({ component, onDecision: () => { throw new Error('audit sink down'); } });
  assert.throws(() => failing.checkResources(request), /audit sink down/);
});

test('handle answers the HTTP API: discovery, probes, unknown routes, methods', async () => {
  const pdp = await PDP.create({ component });
  const get = (path) => pdp.handle({ method: 'GET', path, host: 'pdp.example:8080' });
  const discovery = JSON.parse(get('/.well-known/authzen-configuration').body);
  assert.equal(discovery.access_evaluation_endpoint, 'http://pdp.example:8080/access/v1/evaluation');
  assert.equal(JSON.parse(get('/readyz').body).bundleDigest, pdp.bundleInfo().digest);
  assert.equal(JSON.parse(get('/healthz').body).status, 'ok');
  assert.equal(get('/nowhere').status, 404);
  assert.equal(get('/api/check/resources').status, 405);
  assert.equal(get('/healthz').headers['content-type'], 'application/json');
  // Unlike calls from code, an HTTP request may not set options unless the operator lets it.
  const withOptions = JSON.stringify({ ...request, authzOptions: { now: NOW } });
  assert.equal(pdp.handle({ method: 'POST', path: '/api/check/resources', body: withOptions }).status, 400);
  const open = await PDP.create({ component, allowRequestOptions: true });
  assert.equal(open.handle({ method: 'POST', path: '/api/check/resources', body: withOptions }).status, 200);
  // AuthZEN's HTTPS binding: JSON required, X-Request-ID echoed (headers as a plain object or Headers).
  const [endpoint, evaluation] = authzen()[0];
  const body = JSON.stringify(evaluation);
  const plain = pdp.handle({ method: 'POST', path: endpoint, headers: { 'Content-Type': 'text/plain', 'X-Request-ID': 'r-9' }, body });
  assert.equal(plain.status, 400);
  assert.match(JSON.parse(plain.body), /Content-Type/);
  assert.equal(plain.headers['X-Request-ID'], 'r-9');
  assert.equal(pdp.handle({ method: 'POST', path: endpoint, body }).status, 400);
  const json = pdp.handle({ method: 'POST', path: endpoint, headers: new Headers({ 'content-type': 'application/json', 'x-request-id': 'r-10' }), body });
  assert.equal(json.status, 200, json.body);
  assert.equal(json.headers['X-Request-ID'], 'r-10');
  assert.equal(json.headers['content-type'], 'application/json');
  const small = await PDP.create({ component, maxResources: 1 });
  assert.equal(small.handle({ method: 'POST', path: '/api/check/resources', body: JSON.stringify(request) }).status, 413);
});

test('options reach the engine: default scope, scope search, schema enforcement, strictness', async () => {
  // What the options change is checked against the native engine given the same options in
  // `authzOptions` (the example has an `acme` scope, so the answer does change).
  const req = { ...request, requestId: 'opts' };
  const options = { defaultScope: 'acme', lenientScopeSearch: true, schemaEnforcement: 'reject', strictEvaluation: true };
  const pdp = await PDP.create({ component, now: pinned, ...options });
  const want = native({
    ...req,
    authzOptions: { defaultScope: 'acme', lenientScopes: true, schemaEnforcement: 'reject', strictEvaluation: true },
  });
  assert.notDeepEqual(want, native(req), 'the options change the example\'s answer (its scope)');
  assert.deepEqual(JSON.parse(pdp.checkJson(JSON.stringify(req))), want);
  await assert.rejects(PDP.create({ component, schemaEnforcement: 'sometimes' }), TypeError);
  await assert.rejects(PDP.create({ component, maxResources: -1 }), TypeError);
  await assert.rejects(PDP.create({ component, onDecision: 'log' }), TypeError);
});

test('a compiled core module loads too (how Workers load it)', async () => {
  const module = await WebAssembly.compile(coreModuleBytes(component));
  const pdp = await PDP.create({ component: module });
  assert.equal(pdp.bundleInfo().policyCount, 5);
});

test('a component URL: fetched over HTTP, read from disk for file:', async () => {
  const server = createServer((req, res) =>
    req.url === '/example.wasm' ? res.writeHead(200).end(component) : res.writeHead(404).end(),
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const fetched = await PDP.create({ component: new URL(`${base}/example.wasm`) });
    const fromDisk = await PDP.create({ component: pathToFileURL(process.env.AUTHZ_JS_COMPONENT) });
    const digest = (await PDP.create({ component })).bundleInfo().digest;
    assert.equal(fetched.bundleInfo().digest, digest);
    assert.equal(fromDisk.bundleInfo().digest, digest);
    await assert.rejects(PDP.create({ component: new URL(`${base}/missing.wasm`) }), /HTTP 404/);
  } finally {
    server.close();
  }
});

test('bytes that are no component are refused', async () => {
  await assert.rejects(PDP.create({ component: new Uint8Array([1, 2, 3]) }), /not a WebAssembly binary/);
  await assert.rejects(PDP.create({ component: coreModuleBytes(component) }), /not a component/);
  await assert.rejects(PDP.create({}), TypeError);
  await assert.rejects(PDP.create({ component: 'example.wasm' }), TypeError);
});
