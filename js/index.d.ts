// Types of the authz JS package (js/index.js).
import type { BundleDetails } from './glue/interfaces/authz-pdp-authz.js';

export type { BundleDetails };

export interface PDPOptions {
  /** The baked component's bytes, or its core module compiled (`coreModuleBytes`). */
  component: Uint8Array | ArrayBuffer | WebAssembly.Module;
  /** Globals (`G`) for every request that brings none. */
  globals?: Record<string, unknown>;
  defaultPolicyVersion?: string;
  defaultScope?: string;
  lenientScopeSearch?: boolean;
  schemaEnforcement?: 'none' | 'warn' | 'reject';
  strictEvaluation?: boolean;
  /** The time for requests that bring none (default: the current time); `false`: none. */
  now?: (() => Date) | false;
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

export declare class PDPError extends Error {
  kind?: string;
  /** JSON path of the field at fault, when the request was refused. */
  path?: string;
}

export declare function coreModuleBytes(component: Uint8Array | ArrayBuffer): Uint8Array;

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
}
