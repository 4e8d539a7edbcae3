// Shared by the JS tests: the native engine's answers (`authz check` on policies/example, the
// clock pinned) and a fixed sample of generated checks.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The time every JS test pins (the worker's NOW binding, the page's `now`). */
export const NOW = '2026-12-01T12:00:00Z';

/** The native engine's answer (`authz check`, AUTHZ_BIN) on the example policies. */
export const native = (request) =>
  JSON.parse(
    execFileSync(process.env.AUTHZ_BIN, ['check', '--policies', `${root}policies/example`, '--now', NOW], {
      input: JSON.stringify(request),
    }),
  );

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

