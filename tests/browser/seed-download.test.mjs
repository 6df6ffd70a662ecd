// A user seeds a file in one tab with the demo app and opens the share link in another
// browser profile: the file downloads and is byte-for-byte the original.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useSignalAndBrowser, within, until } from './harness.mjs';

const env = useSignalAndBrowser();
let dir;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'seedcast-test-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
}, { timeout: 60_000 });

test('a 32 MiB file seeded in the app downloads in another browser profile from the share link', { timeout: 180_000 }, async () => {
  const content = randomBytes(32 * 1024 * 1024);
  const path = join(dir, 'holiday video.bin');
  writeFileSync(path, content);

  const seeder = await (await env.browser.newContext()).newPage();
  await seeder.goto(`${env.signal.base}/`);
  await within(20_000, 'the tracker status never said connected', seeder.waitForFunction(
    () => document.getElementById('tracker-status').textContent.startsWith('Connected')));
  await seeder.setInputFiles('#file-input', path);
  const link = await within(60_000, 'no share link appeared after choosing the file',
    until(() => seeder.$eval('.share-link', (el) => el.value).catch(() => '')));
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#magnet:\?xt=urn:btih:[0-9a-f]{40}/);

  const leecher = await (await env.browser.newContext()).newPage();
  await leecher.goto(link);
  await within(120_000, 'the download did not finish', leecher.waitForSelector('a.file-link', { timeout: 0 }));
  const name = await leecher.$eval('.torrent .name', (el) => el.textContent);
  assert.equal(name, 'holiday video.bin');
  const digest = await leecher.$eval('a.file-link', async (a) => {
    const bytes = await (await fetch(a.href)).arrayBuffer();
    return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
  });
  assert.equal(digest, createHash('sha256').update(content).digest('hex'));
  const status = await leecher.$eval('.torrent .numbers', (el) => el.textContent);
  assert.match(status, /^Done/);
});

test('names from torrents are shown as text, never as markup', { timeout: 180_000 }, async () => {
  // Torrent names cannot hold `<` or `>` (the parser replaces them), but entities can sneak
  // markup into innerHTML: shown as text, the name must read exactly as written.
  const name = "&lt;img src=x onerror='window.pwned=1'&gt; &amp; co.txt";
  const seeder = await (await env.browser.newContext()).newPage();
  await seeder.goto(`${env.signal.base}/`);
  await seeder.setInputFiles('#file-input', { name, mimeType: 'text/plain', buffer: Buffer.from('hello') });
  const link = await within(20_000, 'no share link appeared', until(() => seeder.$eval('.share-link', (el) => el.value).catch(() => '')));
  const leecher = await (await env.browser.newContext()).newPage();
  await leecher.goto(link);
  await within(30_000, 'the download did not finish', leecher.waitForSelector('a.file-link', { timeout: 0 }));
  for (const page of [seeder, leecher]) {
    assert.equal(await page.$eval('.torrent .name', (el) => el.textContent), name);
    assert.equal(await page.$$eval('.torrent img', (imgs) => imgs.length), 0, 'no element was created from the name');
    assert.equal(await page.evaluate(() => window.pwned), undefined);
  }
  await seeder.context().close();
  await leecher.context().close();
});

test('a local file name a torrent cannot hold is sanitised, and sharing still works', { timeout: 180_000 }, async () => {
  // Legal on Linux and macOS, but `<`, `>`, `/`, `:` and `?` cannot appear in a torrent path.
  const page = await (await env.browser.newContext()).newPage();
  await page.goto(`${env.signal.base}/`);
  await page.setInputFiles('#file-input', { name: '<b>clip</b>: part?.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(40_000, 1) });
  const link = await within(20_000, 'no share link appeared', until(() => page.$eval('.share-link', (el) => el.value).catch(() => '')));
  assert.match(link, /magnet:\?xt=urn:btih:[0-9a-f]{40}/);
  assert.equal(await page.$eval('.torrent .name', (el) => el.textContent), '_b_clip__b__ part_.bin');
  assert.equal(await page.$eval('#errors', (el) => el.textContent.trim()), '', 'no error is shown');
  await page.context().close();
});

test('a file chosen while the app is still loading is shared once it is ready', { timeout: 180_000 }, async () => {
  const page = await (await env.browser.newContext()).newPage();
  // A slow network: the wasm arrives 3 s after the page has loaded.
  await page.route('**/*.wasm', async (route) => { await new Promise((r) => setTimeout(r, 3_000)); await route.continue(); });
  await page.goto(`${env.signal.base}/`);
  await page.setInputFiles('#file-input', { name: 'early.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(30_000, 7) });
  const link = await within(30_000, 'the file chosen early was never shared', until(() => page.$eval('.share-link', (el) => el.value).catch(() => '')));
  assert.match(link, /magnet:\?xt=urn:btih:[0-9a-f]{40}/);
  assert.equal(await page.$eval('.torrent .name', (el) => el.textContent), 'early.bin');
  await page.context().close();
});

test('the app lists what it stored, and Delete removes the stored copy and the download', { timeout: 180_000 }, async () => {
  const seeder = await (await env.browser.newContext()).newPage();
  await seeder.goto(`${env.signal.base}/`);
  await seeder.setInputFiles('#file-input', { name: 'kept.bin', mimeType: 'application/octet-stream', buffer: randomBytes(3 * 1024 * 1024) });
  const link = await within(20_000, 'no share link appeared', until(() => seeder.$eval('.share-link', (el) => el.value).catch(() => '')));
  const leecher = await (await env.browser.newContext()).newPage();
  await leecher.goto(link);
  await within(60_000, 'the download did not finish', leecher.waitForSelector('a.file-link', { timeout: 0 }));
  const row = await within(15_000, 'the stored list never showed the download',
    until(() => leecher.$eval('#stored li', (li) => li.textContent).then((t) => t.startsWith('kept.bin') && t).catch(() => '')));
  assert.match(row, /^kept\.bin · 3\.1 MB of 3\.1 MB/);
  await leecher.click('#stored li button');
  await within(10_000, 'the stored entry did not go away', leecher.waitForFunction(
    () => document.querySelectorAll('#stored li').length === 0 && !document.getElementById('stored-empty').hidden));
  assert.equal(await leecher.$$eval('#torrents li', (items) => items.length), 0, 'the download was removed too');
  assert.deepEqual(await leecher.evaluate(async () => (await navigator.storage.getDirectory()
    .then((d) => d.getDirectoryHandle('seedcast')).then(async (d) => { const n = []; for await (const k of d.keys()) n.push(k); return n; }))), [],
  'nothing is left in OPFS');
  await seeder.context().close();
  await leecher.context().close();
});
