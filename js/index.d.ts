// Types of the authz JS package (js/index.js).
import type { BundleDetails } from './glue/interfaces/authz-pdp-authz.js';

export type { BundleDetails };

export interface PDPOptions {
  /** The baked component's bytes or URL, or its core module compiled (`coreModuleBytes`). */
  component: Uint8Array | ArrayBuffer | URL | WebAssembly.Module;
  /** Globals (`G`) for every request that brings none. */
  globals?: Record<string, unknown>;
  defaultPolicyVersion?: string;
  defaultScope?: string;
  lenientScopeSearch?: boolean;
  schemaEnforcement?: 'none' | 'warn' | 'reject';
  strictEvaluation?: boolean;
  /** The time for requests that bring none (default: the current time); `false`: none. */
  now?: (() => Date) | false;
  /** Receives one record per (resource, action) decided; what it throws, the call throws. */
  onDecision?: (record: DecisionRecord) => void;
  /** `handle`'s limits, as `authz serve`'s flags (defaults 50, 50, 4 MiB). */
  maxResources?: number;
  maxActions?: number;
  maxBodyBytes?: number;
  /** Let requests to `handle` set `authzOptions` (calls from code always may). */
  allowRequestOptions?: boolean;
}

/** The decision record every authz runtime writes (`runtime` is `js` here). */
export interface DecisionRecord {
  requestId: string;
  principalId: string;
  resourceKind: string;
  resourceId: string;
  action: string;
  effect: 'EFFECT_ALLOW' | 'EFFECT_DENY';
  policy: string;
  rule: string;
  scope: string;
  bundleDigest: string;
  bundleLabel: string | null;
  bundleSignature: { keyId: string; value: string } | null;
  runtime: string;
  durationMicros: number;
}

/** An AuthZEN 1.0 entity (subject or resource). */
export interface AuthZENEntity {
  type: string;
  id: string;
  properties?: Record<string, unknown>;
}

/** An AuthZEN 1.0 Access Evaluation request. */
export interface EvaluationRequest {
  subject: AuthZENEntity;
  resource: AuthZENEntity;
  action: { name: string; properties?: Record<string, unknown> };
  context?: Record<string, unknown>;
}

/** An AuthZEN 1.0 Access Evaluations request: top-level members are defaults. */
export interface EvaluationsRequest extends Partial<EvaluationRequest> {
  evaluations?: Partial<EvaluationRequest>[];
  options?: { evaluations_semantic?: 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit' };
}

export interface Decision {
  decision: boolean;
  context?: Record<string, unknown>;
}

export interface HttpRequest {
  method: string;
  path: string;
  host?: string;
  /** `Content-Type` (AuthZEN requests must be `application/json`) and `X-Request-ID` (echoed) are read. */
  headers?: Headers | Record<string, string>;
  body?: string | Uint8Array | ArrayBuffer;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON text. */
  body: string;
}

export interface Principal {
  id: string;
  roles: string[];
  attr?: Record<string, unknown>;
  policyVersion?: string;
  scope?: string;
}

export interface Resource {
  kind: string;
  id: string;
  attr?: Record<string, unknown>;
  policyVersion?: string;
  scope?: string;
}

/** A Cerbos CheckResources request (its JSON shape). */
export interface CheckResourcesRequest {
  requestId?: string;
  principal: Principal;
  resources: { resource: Resource; actions: string[] }[];
  auxData?: Record<string, unknown>;
  includeMeta?: boolean;
}

export declare class CheckResult {
  resource: { id: string; kind: string; policyVersion: string; scope: string };
  actions: Record<string, 'EFFECT_ALLOW' | 'EFFECT_DENY'>;
  isAllowed(action: string): boolean | undefined;
}

export declare class CheckResourcesResponse {
  requestId: string;
  results: CheckResult[];
  bundleDigest: string;
  findResult(resource: { id: string; kind?: string }): CheckResult | undefined;
  isAllowed(query: { resource: { id: string; kind?: string }; action: string }): boolean | undefined;
}

/** A PlanResources request: which resources of `resource.kind` may `principal` act on? */
export interface PlanResourcesRequest {
  requestId?: string;
  actions: string[];
  principal: Principal;
  /** The kind, and whatever of the attributes is already known. */
  resource: { kind: string; attr?: Record<string, unknown>; policyVersion?: string; scope?: string };
  auxData?: Record<string, unknown>;
  includeMeta?: boolean;
}

/** A node of a filter's condition, in Cerbos's operators. */
export type PlanOperand =
  | { value: unknown }
  | { variable: string }
  | { expression: { operator: string; operands: PlanOperand[] } };

/** Cerbos's PlanResources response, with the bundle's digest. */
export interface PlanResourcesResponse {
  requestId: string;
  actions: string[];
  resourceKind: string;
  policyVersion: string;
  filter: { kind: 'KIND_ALWAYS_ALLOWED' | 'KIND_ALWAYS_DENIED' | 'KIND_CONDITIONAL'; condition?: PlanOperand };
  meta?: { filterDebug: string; matchedScopes: Record<string, string> };
  validationErrors?: unknown[];
  bundleDigest: string;
}

export declare class PDPError extends Error {
  /** The HTTP status `authz serve` answers for it (400, 413, 500, ...). */
  status: number;
  /** Cerbos's (gRPC) error code. */
  code?: number;
  /** JSON path of the field at fault, when the request was refused. */
  path?: string;
}

/** The baked component's core module (what `WebAssembly.compile` takes; a view of the input). */
export declare function coreModuleBytes(component: Uint8Array<ArrayBuffer> | ArrayBuffer): Uint8Array<ArrayBuffer>;
export declare function coreModuleBytes(component: Uint8Array): Uint8Array;

export declare class PDP {
  static create(options: PDPOptions): Promise<PDP>;
  bundleInfo(): BundleDetails;
  checkJson(request: string): string;
  checkResources(request: CheckResourcesRequest): CheckResourcesResponse;
  checkResource(query: {
    principal: Principal;
    resource: Resource;
    actions: string[];
    auxData?: Record<string, unknown>;
    requestId?: string;
  }): CheckResult;
  isAllowed(query: { principal: Principal; resource: Resource; action: string; auxData?: Record<string, unknown> }): boolean;
  planJson(request: string): string;
  planResources(request: PlanResourcesRequest): PlanResourcesResponse;
  evaluation(request: EvaluationRequest): Decision;
  evaluations(request: EvaluationsRequest): { evaluations: Decision[] } | Decision;
  handle(request: HttpRequest): HttpResponse;
}
