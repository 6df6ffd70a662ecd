// Web hardening as a browser sees it: the app runs under its Content-Security-Policy, other
// sites may frame the embeddable player but not the app, and a stream URL plays only in the
// tab that opened it, sandboxed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { useSignalAndBrowser, newContext, openPage, within, until } from './harness.mjs';

const env = useSignalAndBrowser();

/** A profile whose pages record every CSP violation in `window.cspViolations`. */
async function watchedContext() {
  const context = await newContext(env.browser);
  await context.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return context;
}

test('the app, with a player, works under its Content-Security-Policy without violating it', { timeout: 120_000 }, async () => {
  const page = await (await watchedContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const response = await page.goto(`${env.signal.base}/`);
  const csp = response.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(response.headers()['x-content-type-options'], 'nosniff');
  assert.equal(response.headers()['referrer-policy'], 'no-referrer');
  await within(20_000, 'the tracker status never said connected', page.waitForFunction(
    () => document.getElementById('tracker-status').textContent.startsWith('Connected')));
  await page.setInputFiles('#file-input', { name: 'clip.mp4', mimeType: 'video/mp4', buffer: randomBytes(100_000) });
  await within(30_000, 'no player appeared', page.waitForSelector('.torrent seedcast-player', { timeout: 0 }));
  // The player's styles apply (a constructed stylesheet, which the policy allows).
  const background = await page.$eval('.torrent seedcast-player', (p) => getComputedStyle(p.shadowRoot.querySelector('.status')).backgroundColor);
  assert.equal(background, 'rgb(17, 17, 17)');
  for (const path of ['/example.html', '/embed.html']) {
    const other = await page.context().newPage();
    other.on('pageerror', (e) => errors.push(e.message));
    await other.goto(`${env.signal.base}${path}`);
    await other.waitForLoadState('load');
    assert.ok(await other.evaluate(() => window.cspViolations), path);
    assert.deepEqual(await other.evaluate(() => window.cspViolations), [], path);
  }
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('another site can frame the embeddable player but not the app', { timeout: 60_000 }, async () => {
  const site = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><title>elsewhere</title>
      <iframe id="app" src="${env.signal.base}/"></iframe>
      <iframe id="embed" src="${env.signal.base}/embed.html"></iframe>`);
  });
  await new Promise((res) => site.listen(0, '127.0.0.2', res));
  const page = await (await newContext(env.browser)).newPage();
  await page.goto(`http://127.0.0.2:${site.address().port}/`, { waitUntil: 'load' });
  const embed = await within(20_000, 'the embed page did not load in its frame', until(() => page.frames().find((f) => f.url().startsWith(`${env.signal.base}/embed.html`))));
  await within(20_000, 'the embed page did not render its player', embed.waitForSelector('seedcast-player', { timeout: 0 }));
  // The app's frame was refused: it never shows the app (Chromium leaves an error page there).
  const appFrame = await (await page.$('#app')).contentFrame();
  assert.notEqual(appFrame.url(), `${env.signal.base}/`);
  assert.equal(await appFrame.$('#drop-zone').catch(() => null), null);
  await page.context().close();
  site.close();
});

test('a stream URL plays only in the tab that opened it, sandboxed', { timeout: 120_000 }, async () => {
  const context = await newContext(env.browser);
  const owner = await openPage(context, env.signal.base);
  const { url, bytes } = await owner.evaluate(async () => {
    const content = window.testUtils.makeContent(200_000);
    const client = await window.Seedcast.SeedcastClient.create();
    const torrent = await client.seed(new File([content], 'private.mp4'));
    window.keep = torrent;
    return { url: await torrent.files[0].streamURL(), bytes: content.length };
  });
  const own = await owner.evaluate(async (url) => {
    const r = await fetch(url, { headers: { Range: 'bytes=0-99' } });
    return { status: r.status, length: (await r.arrayBuffer()).byteLength, csp: r.headers.get('content-security-policy'), nosniff: r.headers.get('x-content-type-options') };
  }, url);
  assert.deepEqual({ status: own.status, length: own.length }, { status: 206, length: 100 });
  assert.ok(bytes > 100);

  // A second tab of the same origin and profile, controlled by the same service worker.
  const other = await openPage(context, env.signal.base);
  await other.evaluate(async () => { await (await import('/stream-host.js')).serviceWorker(); });
  const stolen = await other.evaluate(async (url) => {
    const r = await fetch(url, { headers: { Range: 'bytes=0-99' } });
    return { status: r.status, csp: r.headers.get('content-security-policy') };
  }, url);
  assert.equal(stolen.status, 403);
  // Nor can a tab navigate to it.
  const visitor = await context.newPage();
  const response = await visitor.goto(url);
  assert.equal(response.status(), 403);
  // The owner still plays it. Torrent bytes are never a page of this origin: every answer
  // is sandboxed and not sniffed.
  assert.equal(await owner.evaluate(async (url) => (await fetch(url)).status, url), 200);
  for (const headers of [own, stolen]) assert.equal(headers.csp, "sandbox; default-src 'none'");
  assert.equal(own.nosniff, 'nosniff');
  await context.close();
});
