// authz in JavaScript: decides with a baked component (`authz bake`), through the bindings jco
// generated once from the generic component (glue/authz.js; scripts/build-js.sh). Every baked
// component has the generic component's structure, so one set of bindings serves them all: the
// package takes the baked component's core module and instantiates it with them. Nothing here
// maps Cerbos or AuthZEN formats: requests go to the component's `check-json` export as they
// are, and its answers come back as it writes them.
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

const SCHEMA_ENFORCEMENT = { none: 'none', warn: 'warn', reject: 'reject' };

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

/** An error the component returned (a request it refused, or a missing bundle). */
export class PDPError extends Error {
  constructor(payload) {
    const detail = payload?.val ?? payload;
    super(typeof detail === 'string' ? detail : (detail?.message ?? JSON.stringify(payload)));
    this.name = 'PDPError';
    this.kind = payload?.tag;
    this.path = detail?.jsonPath;
  }
}

/**
 * A policy decision point over a baked component.
 *
 * `await PDP.create({ component, globals, defaultPolicyVersion, defaultScope,
 * lenientScopeSearch, schemaEnforcement, strictEvaluation, now })`: `component` is the baked
 * component's bytes (Uint8Array or ArrayBuffer), or a compiled `WebAssembly.Module` of its core
 * module (what Workers need: they cannot compile bytes at run time). `now` (a function
 * returning a Date, or `false`) supplies the time conditions read when a request brings none;
 * by default the current time.
 */
export class PDP {
  static async create(options = {}) {
    const { component } = options;
    let module;
    if (component instanceof WebAssembly.Module) {
      module = component;
    } else if (component instanceof Uint8Array || component instanceof ArrayBuffer) {
      module = await WebAssembly.compile(coreModuleBytes(component));
    } else {
      throw new TypeError('options.component: the baked component as bytes, or its core module as a WebAssembly.Module');
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
    this.now = options.now === false ? null : (options.now ?? (() => new Date()));
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

  /** A Cerbos CheckResources request as JSON text → the response as JSON text, both exactly
   * as the component reads and writes them. */
  checkJson(text) {
    const defaults = { ...this.defaults };
    if (this.now && this.bundleInfo().readsClock) {
      defaults.now = this.now().toISOString();
    }
    try {
      return this.exports.checkJson(text, defaults);
    } catch (e) {
      throw new PDPError(e?.payload ?? e);
    }
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
}
