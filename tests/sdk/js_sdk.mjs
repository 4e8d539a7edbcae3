// Cerbos's JavaScript HTTP client (npm @cerbos/http), unchanged, against `authz serve` and
// `cerbos server` on the same policies: the same requests to both, the same answers (Cerbos's
// call ID aside, which authz has none of), and its health check and server information.
//
//   node tests/sdk/js_sdk.mjs REQUESTS.json CERBOS_URL AUTHZ_URL
//
// NODE_PATH names the node_modules holding @cerbos/http (scripts/sdk-check.sh sets it).
// Exits 1 on any difference.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isDeepStrictEqual } from "node:util";

const require = createRequire(import.meta.url);
const modules = (process.env.NODE_PATH ?? "").split(":");
const { HTTP } = require(require.resolve("@cerbos/http", { paths: modules }));
const { version } = JSON.parse(readFileSync(`${modules[0]}/@cerbos/http/package.json`, "utf8"));

const [requestsFile, cerbosUrl, authzUrl] = process.argv.slice(2);
const requests = JSON.parse(readFileSync(requestsFile, "utf8"));
const cerbos = new HTTP(cerbosUrl);
const authz = new HTTP(authzUrl);

// The SDK's request shape for a Cerbos CheckResources request.
const request = (r) => ({
  requestId: r.requestId,
  principal: { id: r.principal.id, roles: r.principal.roles, attr: r.principal.attr ?? {} },
  resources: r.resources.map((e) => ({ resource: { ...e.resource, attr: e.resource.attr ?? {} }, actions: e.actions })),
});
// The answer as plain data, without the call ID.
const plain = (answer) => {
  const { cerbosCallId: _, ...rest } = JSON.parse(JSON.stringify(answer));
  return rest;
};

let failures = 0;
let allowed = 0;
for (const [name, client] of [["cerbos", cerbos], ["authz", authz]]) {
  const health = await client.checkHealth();
  if (health.status !== "SERVING") {
    failures++;
    console.error(`js SDK: ${name}'s checkHealth() says ${JSON.stringify(health)}`);
  }
}
const info = await authz.serverInfo();
if (!info.version) {
  failures++;
  console.error(`js SDK: authz's serverInfo() has no version: ${JSON.stringify(info)}`);
}
for (const r of requests) {
  const want = plain(await cerbos.checkResources(request(r)));
  const got = plain(await authz.checkResources(request(r)));
  if (!isDeepStrictEqual(want, got)) {
    failures++;
    console.error(`js SDK, request ${r.requestId}:\n  cerbos: ${JSON.stringify(want)}\n  authz:  ${JSON.stringify(got)}`);
  }
  for (const result of got.results) {
    allowed += Object.values(result.actions).filter((e) => e === "EFFECT_ALLOW").length;
  }
}
// isAllowed, the call most applications make.
const first = request(requests[0]);
for (const action of first.resources[0].actions) {
  const ask = { principal: first.principal, resource: first.resources[0].resource, action };
  if ((await cerbos.isAllowed(ask)) !== (await authz.isAllowed(ask))) {
    failures++;
    console.error(`js SDK: isAllowed(${action}) differs`);
  }
}
if (allowed === 0) {
  failures++;
  console.error("js SDK: nothing was allowed: the comparison proves little");
}
console.log(`js SDK (@cerbos/http ${version}): ${requests.length} requests, ${allowed} allowed actions, ${failures} differences`);
process.exit(failures ? 1 : 0);
