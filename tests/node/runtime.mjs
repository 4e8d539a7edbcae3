// Two of the conformance harness's runtimes (tests/src/runtime.rs, `NodeJs`): the JS package
// (js/index.js) in Node, or, with `--chromium`, in a page of headless Chromium (AUTHZ_CHROMIUM,
// driven by npm playwright-core at AUTHZ_PLAYWRIGHT_CORE; `source scripts/chromium.sh` sets
// both), driven over JSON lines on stdin/stdout, one request per line:
//   {"load": "<baked component path>"}  -> {"ok": "<bundle digest>"}
//   {"check": "<Cerbos request JSON>"}  -> {"ok": "<response JSON>"} or
//                                          {"error": {"status", "code", "message", "path"}}
//   {"plan": "<PlanResources JSON>"}    -> the same, for a plan
// No clock (`now: false`): requests bring their own `now`, as in every other runtime.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PDP, PDPError } from '../../js/index.js';

const refusal = (e) => ({ status: e.status, code: e.code, message: e.message, path: e.path });

/** The package in this Node process. */
function node() {
  let pdp = null;
  return {
    async load(bytes) {
      pdp = await PDP.create({ component: bytes, now: false });
      return pdp.bundleInfo().digest;
    },
    async check(text, plan) {
      if (!pdp) throw new Error('no component loaded');
      try {
        return { ok: plan ? pdp.planJson(text) : pdp.checkJson(text) };
      } catch (e) {
        if (e instanceof PDPError) return { error: refusal(e) };
        throw e;
      }
    },
    async close() {},
  };
}

/** The package in a page of headless Chromium, which imports it from a loopback server. */
async function chromium() {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const page = `<!doctype html><meta charset="utf-8"><script type="module">
    import { PDP } from '/js/index.js';
    window.PDP = PDP;
  </script>`;
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    } else if (path === '/js/index.js' || path === '/js/glue/authz.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(`${root}${path}`));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { chromium: launcher } = createRequire(process.env.AUTHZ_PLAYWRIGHT_CORE)('playwright-core');
  const browser = await launcher.launch({ executablePath: process.env.AUTHZ_CHROMIUM, args: ['--no-sandbox'] });
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => window.PDP !== undefined);
  return {
    load: (bytes) =>
      tab.evaluate(async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        window.pdp = await window.PDP.create({ component: bytes, now: false });
        return window.pdp.bundleInfo().digest;
      }, bytes.toString('base64')),
    check: (text, plan) =>
      tab.evaluate(([t, p]) => {
        try {
          return { ok: p ? window.pdp.planJson(t) : window.pdp.checkJson(t) };
        } catch (e) {
          if (e.name !== 'PDPError') throw e;
          return { error: { status: e.status, code: e.code, message: e.message, path: e.path } };
        }
      }, [text, plan]),
    async close() {
      await browser.close();
      server.close();
    },
  };
}

const backend = process.argv.includes('--chromium') ? await chromium() : node();
const reply = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  let message;
  try {
    message = JSON.parse(line);
  } catch (e) {
    reply({ error: { harness: `unreadable line: ${e.message}` } });
    continue;
  }
  try {
    if (message.load !== undefined) {
      reply({ ok: await backend.load(readFileSync(message.load)) });
    } else if (message.check !== undefined) {
      reply(await backend.check(message.check, false));
    } else if (message.plan !== undefined) {
      reply(await backend.check(message.plan, true));
    } else {
      reply({ error: { harness: 'neither load, check nor plan' } });
    }
  } catch (e) {
    reply({ error: { harness: String(e?.stack ?? e) } });
  }
}
await backend.close();
