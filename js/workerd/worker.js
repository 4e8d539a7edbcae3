// An edge function on workerd (Cloudflare Workers' runtime): the JS package answering Cerbos
// CheckResources requests. Workers cannot compile wasm bytes at run time, so the baked
// component's core module comes in as a module of type wasm (config.capnp); the package
// instantiates it with its bindings.
import { PDP, PDPError } from './index.js';
import core from './pdp.wasm';

let pdp = null;

const json = (body, status = 200) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });

export default {
  // env.NOW (a text binding, RFC 3339) pins the time conditions see; by default the clock's.
  async fetch(request, env) {
    pdp ??= await PDP.create({ component: core, now: env.NOW ? () => new Date(env.NOW) : undefined });
    const { pathname } = new URL(request.url);
    if (request.method === 'GET' && pathname === '/readyz') {
      const info = pdp.bundleInfo();
      return json({ status: 'ready', bundleDigest: info.digest, bundleLabel: info.label ?? null });
    }
    if (request.method === 'POST' && pathname === '/api/check/resources') {
      try {
        return json(pdp.checkJson(await request.text()));
      } catch (e) {
        if (e instanceof PDPError) {
          return json({ message: e.message, path: e.path ?? '$' }, e.kind === 'request-too-large' ? 413 : 400);
        }
        throw e;
      }
    }
    return json({ message: 'no such endpoint' }, 404);
  },
};
