// An edge function on workerd (Cloudflare Workers' runtime): the JS package answering the PDP's
// HTTP API (Cerbos CheckResources, AuthZEN evaluation and evaluations, discovery, /healthz,
// /readyz) exactly as `authz serve` does, with one audit line per decision on the log. Workers
// cannot compile wasm bytes at run time, so the baked component's core module comes in as a
// module of type wasm (config.capnp); the package instantiates it with its bindings.
//
// Bindings (all optional): NOW (RFC 3339: the time conditions see; by default the clock's),
// NO_HOST_CLOCK ("true": no time unless a request brings its own), GLOBALS (JSON object),
// MAX_RESOURCES, MAX_ACTIONS, MAX_BODY_BYTES, ALLOW_REQUEST_OPTIONS ("true"): as `authz
// serve`'s flags of the same names.
import { PDP } from './index.js';
import core from './pdp.wasm';

let pdp = null;

const whole = (text) => (text === undefined ? undefined : Number(text));

function create(env) {
  return PDP.create({
    component: core,
    now: env.NOW ? () => new Date(env.NOW) : env.NO_HOST_CLOCK === 'true' ? false : undefined,
    globals: env.GLOBALS ? JSON.parse(env.GLOBALS) : undefined,
    maxResources: whole(env.MAX_RESOURCES),
    maxActions: whole(env.MAX_ACTIONS),
    maxBodyBytes: whole(env.MAX_BODY_BYTES),
    allowRequestOptions: env.ALLOW_REQUEST_OPTIONS === 'true',
    onDecision: (record) => console.log(JSON.stringify(record)),
  });
}

export default {
  async fetch(request, env) {
    pdp ??= await create(env);
    const url = new URL(request.url);
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    const answer = pdp.handle({ method: request.method, path: url.pathname, host: url.host, headers: request.headers, body });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  },
};
