// The conformance harness's Node runtime (tests/src/runtime.rs, `NodeJs`): the JS package
// (js/index.js) driven over JSON lines on stdin/stdout, one request per line:
//   {"load": "<baked component path>"}  -> {"ok": "<bundle digest>"}
//   {"check": "<Cerbos request JSON>"}  -> {"ok": "<response JSON>"} or
//                                          {"error": {"status", "code", "message", "path"}}
// No clock (`now: false`): requests bring their own `now`, as in every other runtime.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { PDP, PDPError } from '../../js/index.js';

let pdp = null;
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
      pdp = await PDP.create({ component: readFileSync(message.load), now: false });
      reply({ ok: pdp.bundleInfo().digest });
    } else if (message.check !== undefined) {
      if (!pdp) throw new Error('no component loaded');
      reply({ ok: pdp.checkJson(message.check) });
    } else {
      reply({ error: { harness: 'neither load nor check' } });
    }
  } catch (e) {
    if (e instanceof PDPError) {
      reply({ error: { status: e.status, code: e.code, message: e.message, path: e.path } });
    } else {
      reply({ error: { harness: String(e?.stack ?? e) } });
    }
  }
}
