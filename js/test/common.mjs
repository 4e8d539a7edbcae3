// Shared by the JS tests: the native engine's answers (`authz check` on policies/example, the
// clock pinned) and a fixed sample of generated checks.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The time every JS test pins (the worker's NOW binding, the page's `now`). */
export const NOW = '2026-12-01T12:00:00Z';

/** `authz check` (AUTHZ_BIN) on the example policies, the clock pinned: `{ code, stdout, stderr }`. */
function authzCheck(request, endpoint) {
  const run = spawnSync(
    process.env.AUTHZ_BIN,
    ['check', '--policies', `${root}policies/example`, '--now', NOW, '--endpoint', endpoint],
    { input: typeof request === 'string' ? request : JSON.stringify(request), encoding: 'utf8' },
  );
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The native engine's answer at `endpoint` (default Cerbos CheckResources; an AuthZEN path
 * for AuthZEN requests). */
export function native(request, endpoint = '/api/check/resources') {
  const run = authzCheck(request, endpoint);
  if (run.code !== 0) throw new Error(`authz check refused the request: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** `authz plan` (AUTHZ_BIN) on the example policies, the clock pinned: the native engine's plan. */
export function nativePlan(request) {
  const run = spawnSync(process.env.AUTHZ_BIN, ['plan', '--policies', `${root}policies/example`, '--now', NOW], {
    input: JSON.stringify(request),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`authz plan refused the request: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** The native engine's error body (`{code, message, path}`) for a request it refuses. */
export function nativeRefusal(request, endpoint = '/api/check/resources') {
  const run = authzCheck(request, endpoint);
  if (run.code !== 2) throw new Error(`authz check did not refuse the request (exit ${run.code}): ${run.stdout}`);
  return JSON.parse(run.stderr);
}

/** AuthZEN 1.0 requests over the example: single evaluations (with and without roles, with
 * Cerbos's meta) and batches under each semantic, as [endpoint, request]. */
export function authzen() {
  const subject = (roles, department) => ({
    type: 'user',
    id: 'alice',
    properties: roles ? { 'cerbos.roles': roles, department } : { department },
  });
  const document = (owner, status) => ({
    type: 'document',
    id: 'doc-1',
    properties: { owner, department: 'finance', status, size: 10 },
  });
  const cases = [];
  for (const roles of [['user'], ['user', 'manager'], ['admin'], undefined]) {
    for (const action of ['view', 'edit', 'approve', 'delete']) {
      for (const [owner, status] of [['bob', 'PENDING_APPROVAL'], ['alice', 'DRAFT']]) {
        cases.push(['/access/v1/evaluation', {
          subject: subject(roles, 'finance'),
          resource: document(owner, status),
          action: { name: action },
          context: { 'cerbos.includeMeta': action === 'approve', 'cerbos.requestId': `z-${cases.length}` },
        }]);
      }
    }
  }
  for (const semantic of [undefined, 'execute_all', 'deny_on_first_deny', 'permit_on_first_permit']) {
    cases.push(['/access/v1/evaluations', {
      subject: subject(['user', 'manager'], 'finance'),
      resource: document('bob', 'PENDING_APPROVAL'),
      evaluations: [
        { action: { name: 'view' } },
        { action: { name: 'edit' } },
        { action: { name: 'approve' } },
        { action: { name: 'edit' }, resource: document('alice', 'DRAFT') },
      ],
      options: semantic ? { evaluations_semantic: semantic } : undefined,
    }]);
  }
  cases.push(['/access/v1/evaluations', { subject: subject(['user'], 'sales'), resource: document('bob', 'DRAFT'), action: { name: 'view' } }]);
  return cases;
}

/** Requests every PDP refuses, as [endpoint, request text]: malformed, over a limit. */
export const refused = [
  ['/api/check/resources', '{not json'],
  ['/api/check/resources', JSON.stringify({ principal: { id: 'a', roles: [] }, resources: [{ resource: { kind: 'document', id: '1' }, actions: ['view'] }] })],
  ['/api/check/resources', JSON.stringify({ principal: { id: 'a', roles: ['user'] }, resources: [{ resource: { kind: 'document', id: '1' }, actions: Array.from({ length: 51 }, (_, i) => `a${i}`) }] })],
  ['/access/v1/evaluation', JSON.stringify({ subject: { type: 'user' }, resource: { type: 'd', id: '1' }, action: { name: 'a' } })],
  ['/access/v1/evaluations', JSON.stringify({ subject: { type: 'u', id: 'a' }, resource: { type: 'd', id: '1' }, evaluations: [{ action: { name: 'v' } }], options: { evaluations_semantic: 'sometimes' } })],
];

/** Four requests of 30 resources each, from a fixed seed. */
export function generated() {
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

