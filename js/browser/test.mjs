// The JS package in headless Chromium (Debian `chromium`, driven by npm playwright-core): a page
// (js/browser/index.html, served over loopback by scripts/browser-test.sh) loads the example
// component, and its answers to the example request, to 120 generated checks and to AuthZEN
// evaluations and batches equal the native engine's, bundle digest included.
// PAGE_URL: the page; AUTHZ_CHROMIUM, AUTHZ_PLAYWRIGHT_CORE: scripts/chromium.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { NOW, authzen, generated, native } from '../test/common.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { chromium } = createRequire(process.env.AUTHZ_PLAYWRIGHT_CORE)('playwright-core');

test('the page answers as the native engine does', async () => {
  const browser = await chromium.launch({ executablePath: process.env.AUTHZ_CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${process.env.PAGE_URL}?now=${NOW}`);
    assert.equal(await page.evaluate(() => window.authzReady), true, errors.join('\n'));
    const check = async (request) => JSON.parse(await page.evaluate((t) => window.authzCheck(t), JSON.stringify(request)));
    const example = JSON.parse(readFileSync(`${root}policies/example-request.json`, 'utf8'));
    const got = await check(example);
    assert.deepEqual(got, native(example));
    assert.equal(got.bundleDigest, (await page.evaluate(() => window.authzBundle())).digest);
    let checks = 0;
    for (const request of generated()) {
      assert.deepEqual(await check(request), native(request));
      checks += request.resources.length;
    }
    assert.equal(checks, 120);
    for (const [path, request] of authzen()) {
      const answer = await page.evaluate((r) => window.authzHandle(r), { method: 'POST', path, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request) });
      assert.equal(answer.status, 200, answer.body);
      assert.deepEqual(JSON.parse(answer.body), native(request, path));
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
