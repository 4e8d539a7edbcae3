// authz in JavaScript: decides with a baked component (`authz bake`), through the bindings jco
// generated once from the generic component (glue/authz.js; scripts/build-js.sh). Every baked
// component has the generic component's structure, so one set of bindings serves them all: the
// package takes the baked component's core module and instantiates it with them. Nothing here
// maps Cerbos or AuthZEN formats: every request goes to the component's `handle-http` export
// as it is (the API `authz serve` answers, run inside the component), and its answers and
// decision records come back as the component writes them.
import { instantiate } from './glue/authz.js';

/** The core module of a component: its first core module section (id 1). */
export function coreModuleBytes(component) {
  const bytes = component instanceof Uint8Array ? component : new Uint8Array(component);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) {
    throw new Error('not a WebAssembly binary');
  }
  // Layer 1 (bytes 6-7 = 0x01 0x00) is a component; layer 0 a core module.
  if (bytes[6] !== 0x01 || bytes[7] !== 0x00) {
    throw new Error('not a component: bake one with `authz bake`');
  }
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated component');
      const b = bytes[at++];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    if (at + size > bytes.length) throw new Error('truncated component');
    if (id === 1) return bytes.subarray(at, at + size);
    at += size;
  }
  throw new Error('the component has no core module');
}

/** The bytes at `url`: fetched (http, https, data, blob), or read from disk in Node (file). */
async function download(url) {
  if (url.protocol === 'file:') {
    // A specifier bundlers leave alone: this branch runs in Node only.
    const fs = 'node:fs/promises';
    const { readFile } = await import(fs);
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`fetching the component at ${url}: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

const SCHEMA_ENFORCEMENT = { none: 'none', warn: 'warn', reject: 'reject' };
const ENCODER = new TextEncoder();
const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' });

/** One resource's decisions, as Cerbos's clients expose them. */
export class CheckResult {
  constructor(result) {
    Object.assign(this, result);
  }

  /** Whether `action` was allowed (`undefined` when it was not asked). */
  isAllowed(action) {
    const effect = this.actions?.[action];
    return effect === undefined ? undefined : effect === 'EFFECT_ALLOW';
  }
}

/** A Cerbos CheckResources response, with a `CheckResult` per resource. */
export class CheckResourcesResponse {
  constructor(response) {
    Object.assign(this, response);
    this.results = (response.results ?? []).map((r) => new CheckResult(r));
  }

  /** The result for the resource with this id (and kind, when ids repeat across kinds). */
  findResult({ id, kind } = {}) {
    return this.results.find((r) => r.resource?.id === id && (kind === undefined || r.resource?.kind === kind));
  }

  /** Whether `action` on the resource with this id was allowed. */
  isAllowed({ resource, action }) {
    return this.findResult(resource)?.isAllowed(action);
  }
}

/**
 * A request the PDP did not decide: the HTTP API's error answer (`status`, and the body's
 * `code`, `message` and `path`: the JSON path of the field at fault, when the request was
 * refused). Whatever was asked is denied.
 */
export class PDPError extends Error {
  constructor(status, body) {
    super(body?.message ?? `the PDP answered ${status}`);
    this.name = 'PDPError';
    this.status = status;
    this.code = body?.code;
    this.path = body?.path;
  }
}

/**
 * A policy decision point over a baked component.
 *
 * `await PDP.create({ component, globals, defaultPolicyVersion, defaultScope,
 * lenientScopeSearch, schemaEnforcement, strictEvaluation, now, onDecision, maxResources,
 * maxActions, maxBodyBytes, allowRequestOptions })`: `component` is the baked component's bytes
 * (Uint8Array or ArrayBuffer), its URL (fetched; `file:` read from disk in Node), or a compiled
 * `WebAssembly.Module` of its core module (what Workers need: they cannot compile bytes at run
 * time). `now` (a function returning a Date, or
 * `false`) supplies the time conditions read when a request brings none; by default the
 * current time. `onDecision(record)` receives the decision record every authz runtime writes,
 * one per (resource, action) decided; what it throws is thrown by the call that decided (fail
 * closed). The limits and `allowRequestOptions` are `authz serve`'s, and hold for `handle`;
 * calls from code (`checkResources`, ...) may always set `authzOptions`.
 */
export class PDP {
  static async create(options = {}) {
    const { component } = options;
    let module;
    if (component instanceof WebAssembly.Module) {
      module = component;
    } else if (component instanceof Uint8Array || component instanceof ArrayBuffer) {
      module = await WebAssembly.compile(coreModuleBytes(component));
    } else if (component instanceof URL) {
      module = await WebAssembly.compile(coreModuleBytes(await download(component)));
    } else {
      throw new TypeError(
        'options.component: the baked component as bytes or a URL, or its core module as a WebAssembly.Module',
      );
    }
    const root = await instantiate(() => module, {});
    return new PDP(root.authz, options);
  }

  constructor(exports, options) {
    this.exports = exports;
    const enforcement = options.schemaEnforcement ?? 'none';
    if (!(enforcement in SCHEMA_ENFORCEMENT)) {
      throw new TypeError(`options.schemaEnforcement: one of none, warn, reject (not ${enforcement})`);
    }
    if (options.onDecision !== undefined && typeof options.onDecision !== 'function') {
      throw new TypeError('options.onDecision: a function receiving each decision record');
    }
    for (const limit of ['maxResources', 'maxActions', 'maxBodyBytes']) {
      const n = options[limit];
      if (n !== undefined && !(Number.isInteger(n) && n >= 0 && n <= 0xffffffff)) {
        throw new TypeError(`options.${limit}: a whole number (not ${n})`);
      }
    }
    this.now = options.now === false ? null : (options.now ?? (() => new Date()));
    this.onDecision = options.onDecision;
    this.allowRequestOptions = Boolean(options.allowRequestOptions);
    this.limits = {
      maxResources: options.maxResources,
      maxActions: options.maxActions,
      maxBodyBytes: options.maxBodyBytes,
    };
    this.defaults = {
      globalsJson: options.globals === undefined ? undefined : JSON.stringify(options.globals),
      defaultPolicyVersion: options.defaultPolicyVersion,
      defaultScope: options.defaultScope,
      lenientScopes: Boolean(options.lenientScopeSearch),
      schemaEnforcement: enforcement,
      strictEvaluation: Boolean(options.strictEvaluation),
    };
    this.info = null;
  }

  /** The baked bundle: digest, label, policy count, engine version, whether it reads the clock. */
  bundleInfo() {
    this.info ??= this.exports.bundleInfo();
    return this.info;
  }

  /**
   * Answers one request to the PDP's HTTP API — Cerbos `POST /api/check/resources`, AuthZEN
   * `POST /access/v1/evaluation(s)`, `GET /.well-known/authzen-configuration`, `/healthz`,
   * `/readyz` — as `authz serve` answers it: `{ method, path, host?, headers?, body? }` (headers:
   * a `Headers` or a plain object, of which `Content-Type` (AuthZEN requests must be
   * `application/json`) and `X-Request-ID` (echoed) are read; body: text or bytes) →
   * `{ status, headers, body }` (body: JSON text). What an edge function serves.
   */
  handle({ method, path, host, headers, body }) {
    const header = (name) => {
      if (!headers) return undefined;
      if (typeof headers.get === 'function') return headers.get(name) ?? undefined;
      const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
      return key === undefined ? undefined : String(headers[key]);
    };
    const request = { method, path, host, contentType: header('content-type'), requestId: header('x-request-id') };
    return this.#call(request, body, this.allowRequestOptions);
  }

  #call({ method, path, host, contentType, requestId }, body, allowRequestOptions) {
    const defaults = { ...this.defaults };
    if (this.now && this.bundleInfo().readsClock) {
      defaults.now = this.now().toISOString();
    }
    const bytes = body === undefined ? new Uint8Array() : typeof body === 'string' ? ENCODER.encode(body) : new Uint8Array(body);
    const config = { ...this.limits, allowRequestOptions, defaults, runtime: 'js' };
    const start = performance.now();
    const answer = this.exports.handleHttp({ method, path, host, contentType, requestId, body: bytes }, config);
    if (this.onDecision && answer.decisions.length > 0) {
      const micros = (performance.now() - start) * 1000;
      for (const line of answer.decisions) {
        const record = JSON.parse(line);
        record.durationMicros = micros;
        this.onDecision(record);
      }
    }
    return { status: answer.status, headers: { ...JSON_HEADERS, ...Object.fromEntries(answer.headers) }, body: answer.body };
  }

  /** The API's answer to `body` at `path` as text; a PDPError unless it is a decision. */
  #post(path, text) {
    const answer = this.#call({ method: 'POST', path, contentType: 'application/json' }, text, true);
    if (answer.status !== 200) {
      throw new PDPError(answer.status, JSON.parse(answer.body));
    }
    return answer.body;
  }

  /** A Cerbos CheckResources request as JSON text → the response as JSON text, both exactly
   * as `authz serve` reads and writes them. */
  checkJson(text) {
    return this.#post('/api/check/resources', text);
  }

  /** A Cerbos CheckResources request (its JSON shape) → `CheckResourcesResponse`. */
  checkResources(request) {
    return new CheckResourcesResponse(JSON.parse(this.checkJson(JSON.stringify(request))));
  }

  /** One resource: `{ principal, resource, actions, auxData?, requestId? }` → `CheckResult`. */
  checkResource({ principal, resource, actions, auxData, requestId }) {
    const request = { requestId, principal, resources: [{ resource, actions }], auxData, includeMeta: true };
    return this.checkResources(request).results[0];
  }

  /** Whether `principal` may do `action` on `resource`. */
  isAllowed({ principal, resource, action, auxData }) {
    return this.checkResource({ principal, resource, actions: [action], auxData }).isAllowed(action) === true;
  }

  /** A Cerbos PlanResources request as JSON text → the response as JSON text (query planning:
   * a filter over the resource attributes not given), exactly as `authz serve` answers it. */
  planJson(text) {
    return this.#post('/api/plan/resources', text);
  }

  /** A Cerbos PlanResources request (its JSON shape) → the response (`{ filter: { kind,
   * condition }, ... }`). */
  planResources(request) {
    return JSON.parse(this.planJson(JSON.stringify(request)));
  }

  /** An AuthZEN 1.0 Access Evaluation request → its decision (`{ decision, context }`). */
  evaluation(request) {
    return JSON.parse(this.#post('/access/v1/evaluation', JSON.stringify(request)));
  }

  /** An AuthZEN 1.0 Access Evaluations (batch) request → `{ evaluations: [...] }`. */
  evaluations(request) {
    return JSON.parse(this.#post('/access/v1/evaluations', JSON.stringify(request)));
  }
}
