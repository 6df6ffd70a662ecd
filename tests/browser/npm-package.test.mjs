// The npm package as a web developer uses it: `npm pack` output installed into a fresh project,
// bundled by Vite (from npm), served by a plain static server (another origin than the
// tracker), then a download and a stream through the package's service worker in Chromium, with a
// second copy of the package on the same page.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { useSignalAndBrowser, newContext, seedContent, within, staticServer, ROOT } from './harness.mjs';
import { makeContent } from '../content.mjs';

const env = useSignalAndBrowser();
const cleanup = [];
after(async () => { for (const f of cleanup.reverse()) await f(); });

// The scratch project's code: what the package README shows.
const MAIN = `
import { SeedcastClient } from 'seedcast';
import { SeedcastPlayer } from 'seedcast/player';
// A second copy of the package on the same page (as two bundles, or two versions, would be).
import * as copy from 'seedcast-copy';
import { SeedcastPlayer as CopyPlayer } from 'seedcast-copy/player';

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
const params = new URLSearchParams(location.search);
window.result = (async () => {
  const client = await SeedcastClient.create({ trackers: [params.get('tracker')], storage: 'memory' });
  const registration = await client.serviceWorker('/sw.js');
  const torrent = client.add(params.get('magnet'));
  await new Promise((resolve) => torrent.addEventListener('metadata', resolve, { once: true }));
  const url = await torrent.files[0].streamURL();
  const response = await fetch(url, { headers: { Range: 'bytes=1000-1999' } });
  const range = hex(await crypto.subtle.digest('SHA-256', await response.arrayBuffer()));
  if (!torrent.stats().done) await new Promise((resolve) => torrent.addEventListener('done', resolve, { once: true }));
  const whole = hex(await crypto.subtle.digest('SHA-256', await torrent.files[0].bytes()));

  // The copy has its own wasm and client but shares the page's one streaming worker.
  const other = await copy.SeedcastClient.create({ trackers: [params.get('tracker')], storage: 'memory' });
  const sameWorker = (await other.serviceWorker()) === registration;
  const second = other.add(params.get('magnet2'));
  await new Promise((resolve) => second.addEventListener('metadata', resolve, { once: true }));
  const response2 = await fetch(await second.files[0].streamURL(), { headers: { Range: 'bytes=0-999' } });
  const range2 = hex(await crypto.subtle.digest('SHA-256', await response2.arrayBuffer()));
  // One store per copy: each copy's first persistent client picks its own (no cross-talk).
  await SeedcastClient.create({ trackers: [], storage: 'opfs' });
  const sameCopy = await SeedcastClient.create({ trackers: [], storage: 'indexeddb' }).then(() => 'ok', (e) => e.message);
  const refused = await copy.SeedcastClient.create({ trackers: [], storage: 'indexeddb' }).then(() => 'ok', (e) => e.message);
  return {
    scope: registration.scope, url, status: response.status, range, whole, sameWorker, range2, refused, sameCopy,
    player: [SeedcastPlayer, CopyPlayer].includes(customElements.get('seedcast-player')),
    wasm: performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.wasm')),
  };
})().catch((e) => ({ error: e.message }));
`;

test('npm pack → install into a fresh project → Vite build → download and stream from a plain static site', { timeout: 180_000 }, async () => {
  const tarball = execFileSync('bash', [join(ROOT, 'scripts/pack-npm.sh')], { encoding: 'utf8' }).trim().split('\n').pop();
  const manifest = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
  assert.equal(manifest.name, 'seedcast');
  assert.deepEqual(Object.keys(manifest.exports), ['.', './player', './sw.js', './package.json']);
  assert.equal(manifest.types, './seedcast.d.ts');

  const dir = mkdtempSync(join(tmpdir(), 'seedcast-npm-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  // The package has no dependencies: it installs offline from the tarball alone.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, `seedcast-copy@file:${tarball}`], { cwd: dir });
  mkdirSync(join(dir, 'public'));
  copyFileSync(join(dir, 'node_modules/seedcast/sw.js'), join(dir, 'public/sw.js'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>scratch</title><script type="module" src="/main.js"></script>');
  writeFileSync(join(dir, 'main.js'), MAIN);
  await build({ root: dir, configFile: false, logLevel: 'warn', build: { outDir: join(dir, 'dist') } });
  assert.match(readFileSync(join(dir, 'dist/index.html'), 'utf8'), /assets\/index-[\w-]+\.js/, 'Vite bundled the page');

  const site = await staticServer(join(dir, 'dist'));
  cleanup.push(site.close);
  const size = 300_000;
  const seedContext = await newContext(env.browser);
  cleanup.push(() => seedContext.close());
  const seed = await seedContent(env, seedContext, size, 11);
  const seed2 = await seedContent(env, seedContext, size, 12);
  const context = await newContext(env.browser);
  cleanup.push(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${site.base}/?${new URLSearchParams({ tracker: env.signal.tracker, magnet: seed.magnet, magnet2: seed2.magnet })}`);
  const result = await within(60_000, 'the bundled page did not finish', page.evaluate(() => window.result));

  assert.equal(result.error, undefined, result.error);
  assert.equal(result.scope, `${site.base}/`);
  assert.ok(result.url.startsWith(`${site.base}/seedcast/stream/${seed.infoHash}/0/`), result.url);
  assert.equal(result.status, 206);
  const content = makeContent(size, 11);
  assert.equal(result.range, createHash('sha256').update(content.subarray(1000, 2000)).digest('hex'), 'the stream served the range');
  assert.equal(result.whole, seed.digest, 'the download is the file');
  assert.ok(result.player, 'seedcast/player defined <seedcast-player> once (the second copy did not throw)');
  assert.ok(result.wasm.length >= 1 && result.wasm.every((u) => u.startsWith(`${site.base}/assets/`)), `the bundler emitted the wasm: ${result.wasm}`);
  assert.ok(result.sameWorker, 'the second copy uses the page\'s streaming worker');
  assert.equal(result.range2, createHash('sha256').update(makeContent(size, 12).subarray(0, 1000)).digest('hex'), 'the second copy\'s torrent streams');
  assert.match(result.sameCopy, /conflicts with this page's storage "opfs"/, 'within one copy a second store is refused');
  assert.equal(result.refused, 'ok', 'each copy has its own store worker: no conflict between copies');
  assert.deepEqual(errors, []);
});
