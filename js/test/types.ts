// Compiled by scripts/js-test.sh with `tsc --noEmit --strict`: the package's declared types
// (index.d.ts) describe how the README and the tests use it. Never run.
import { PDP, PDPError, coreModuleBytes, type DecisionRecord, type CheckResult, type PlanOperand } from '../index.js';

export async function example(bytes: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const records: DecisionRecord[] = [];
  const pdp = await PDP.create({
    component: bytes,
    globals: { environment: 'test' },
    schemaEnforcement: 'warn',
    now: () => new Date(),
    onDecision: (r) => records.push(r),
    maxResources: 10,
  });
  const fromUrl = await PDP.create({ component: new URL('https://example.com/example.wasm') });
  const fromModule = await PDP.create({ component: await WebAssembly.compile(coreModuleBytes(bytes)) });
  const info = fromUrl.bundleInfo();
  const digest: string = info.digest;
  const response = pdp.checkResources({
    principal: { id: 'alice', roles: ['user'], attr: { department: 'finance' } },
    resources: [{ resource: { kind: 'document', id: 'doc-1' }, actions: ['view'] }],
  });
  const result: CheckResult | undefined = response.findResult({ id: 'doc-1' });
  const viewed: boolean | undefined = result?.isAllowed('view');
  const decision = fromModule.evaluation({
    subject: { type: 'user', id: 'alice' },
    resource: { type: 'document', id: 'doc-1' },
    action: { name: 'view' },
  });
  const batch = pdp.evaluations({ subject: { type: 'user', id: 'alice' }, evaluations: [{ action: { name: 'view' } }] });
  const plan = pdp.planResources({
    actions: ['edit'],
    principal: { id: 'alice', roles: ['user'] },
    resource: { kind: 'document', attr: { status: 'DRAFT' } },
  });
  const everything: boolean = plan.filter.kind === 'KIND_ALWAYS_ALLOWED';
  const condition: PlanOperand | undefined = plan.filter.condition;
  const planText: string = pdp.planJson('{}');
  const answer = pdp.handle({ method: 'POST', path: '/api/check/resources', body: '{}' });
  const status: number = answer.status;
  try {
    pdp.checkJson('{}');
  } catch (e) {
    if (e instanceof PDPError) {
      const path: string | undefined = e.path;
      return path === undefined && e.status === 400;
    }
  }
  const planned = !everything && condition !== undefined && planText.length > 0;
  return decision.decision && viewed === true && digest.length > 0 && status === 200 && 'evaluations' in batch && planned;
}
