/** @module Interface authz:pdp/authz@0.1.0 **/
export function checkResources(request: CheckRequest): CheckResponse;
export function checkJson(request: string, defaults: CheckOptions): string;
export function bundleInfo(): BundleDetails;
export function actions(kind: string): Array<string>;
export function planResources(request: PlanRequest): PlanResponse;
export function planJson(request: string, defaults: CheckOptions): string;
export function handleHttp(request: HttpRequest, config: HttpConfig): HttpResponse;
/**
 * # Variants
 * 
 * ## `"allow"`
 * 
 * ## `"deny"`
 */
export type Effect = 'allow' | 'deny';
/**
 * # Variants
 * 
 * ## `"none"`
 * 
 * ## `"warn"`
 * 
 * ## `"reject"`
 */
export type SchemaEnforcement = 'none' | 'warn' | 'reject';
export interface Principal {
  id: string,
  roles: Array<string>,
  attrJson: string,
  policyVersion: string,
  scope: string,
}
export interface Resource {
  kind: string,
  id: string,
  attrJson: string,
  policyVersion: string,
  scope: string,
}
export interface ResourceEntry {
  resource: Resource,
  actions: Array<string>,
}
export interface CheckOptions {
  now?: string,
  globalsJson?: string,
  defaultPolicyVersion?: string,
  defaultScope?: string,
  lenientScopes: boolean,
  schemaEnforcement: SchemaEnforcement,
  strictEvaluation: boolean,
}
export interface CheckRequest {
  requestId: string,
  principal: Principal,
  resources: Array<ResourceEntry>,
  auxDataJson?: string,
  options: CheckOptions,
}
export interface ActionResult {
  action: string,
  effect: Effect,
  policy: string,
  scope: string,
  rule: string,
}
export interface OutputEntry {
  src: string,
  action: string,
  valueJson: string,
  error?: string,
}
export interface ValidationError {
  path: string,
  message: string,
  source: string,
}
export interface EvaluationError {
  expression: string,
  message: string,
}
export interface ResourceResult {
  resourceId: string,
  resourceKind: string,
  actions: Array<ActionResult>,
  effectiveDerivedRoles: Array<string>,
  outputs: Array<OutputEntry>,
  validationErrors: Array<ValidationError>,
  evaluationErrors: Array<EvaluationError>,
}
export interface CheckResponse {
  requestId: string,
  results: Array<ResourceResult>,
  bundleDigest: string,
  bundleLabel?: string,
}
export interface BundleDetails {
  digest: string,
  label?: string,
  policyCount: number,
  engineVersion: string,
  readsClock: boolean,
}
export interface RequestError {
  message: string,
  jsonPath?: string,
}
export type Error = ErrorInvalidRequest | ErrorRequestTooLarge | ErrorBundleUnavailable;
export interface ErrorInvalidRequest {
  tag: 'invalid-request',
  val: RequestError,
}
export interface ErrorRequestTooLarge {
  tag: 'request-too-large',
  val: RequestError,
}
export interface ErrorBundleUnavailable {
  tag: 'bundle-unavailable',
  val: string,
}
/**
 * # Variants
 * 
 * ## `"always-allowed"`
 * 
 * ## `"always-denied"`
 * 
 * ## `"conditional"`
 */
export type FilterKind = 'always-allowed' | 'always-denied' | 'conditional';
export interface PlanResource {
  kind: string,
  attrJson: string,
  policyVersion: string,
  scope: string,
}
export interface PlanRequest {
  requestId: string,
  principal: Principal,
  resource: PlanResource,
  actions: Array<string>,
  auxDataJson?: string,
  options: CheckOptions,
}
export interface PlanResponse {
  requestId: string,
  actions: Array<string>,
  resourceKind: string,
  policyVersion: string,
  scope: string,
  kind: FilterKind,
  conditionJson?: string,
  filterDebug: string,
  matchedScopes: Array<[string, string]>,
  validationErrors: Array<ValidationError>,
  bundleDigest: string,
  bundleLabel?: string,
}
export interface HttpRequest {
  method: string,
  path: string,
  host?: string,
  contentType?: string,
  requestId?: string,
  body: Uint8Array,
}
export interface HttpConfig {
  maxResources?: number,
  maxActions?: number,
  maxBodyBytes?: number,
  allowRequestOptions: boolean,
  defaults: CheckOptions,
  runtime: string,
}
export interface HttpResponse {
  status: number,
  headers: Array<[string, string]>,
  body: string,
  decisions: Array<string>,
}
