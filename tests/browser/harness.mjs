// Shared setup for the browser tests and the benchmark: a seedcast-signal server serving
// www/ (tracker + app on one port) and a headless Chromium with WebRTC on loopback.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { makeContent } from '../content.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const WEBTORRENT_JS = resolve(ROOT, 'tests/node_modules/webtorrent/dist/webtorrent.min.js');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  // No pre-started spare renderer: a new page gets a new process, so benchmarks can tell
  // which renderer is the page they opened. No omnibox popup WebUI either: Chromium 156 loads
  // it (chrome://omnibox-popup.top-chrome, ~80 modules) in a renderer of its own for every
  // new context, ~400 ms of CPU on a 2-core machine during each benchmark view's cold start
  // (seen in CHROME_TRACE traces of bench-stream); it slowed every client, unevenly.
  '--disable-features=SpareRendererForSitePerProcess,PreloadTopChromeWebUI,WebUIOmniboxPopup',
  // Lets the leak test collect garbage before reading the heap size.
  '--js-flags=--expose-gc',
];

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

/** Starts seedcast-signal on a free port; `intervalSecs` is the announce interval it tells clients;
 *  `args` are more command-line flags (e.g. `--chain FILE --data DIR`); `www` is the directory it
 *  serves (default: the app in `www/`; another one makes it e.g. a web seed). */
export async function startSignal({ intervalSecs = 5, port: fixedPort, host = '127.0.0.1', args = [], www = resolve(ROOT, 'www') } = {}) {
  const bin = resolve(ROOT, process.env.SEEDCAST_SIGNAL_BIN ?? 'target/debug/seedcast-signal');
  if (!existsSync(bin)) throw new Error(`seedcast-signal not found at ${bin} (build it or set SEEDCAST_SIGNAL_BIN)`);
  if (!existsSync(resolve(ROOT, 'www/pkg/seedcast_bg.wasm'))) throw new Error('www/pkg is missing: run scripts/build-wasm.sh');
  const port = fixedPort ?? await freePort();
  // Channels go to a fresh temporary database unless the test names one (never ./seedcast-data).
  const dataDir = args.includes('--data') ? null : mkdtempSync(join(tmpdir(), 'seedcast-signal-data-'));
  const child = spawn(bin, ['--listen', `${host}:${port}`, '--www', www,
    '--interval-secs', String(intervalSecs), '--log', 'warn', ...(dataDir ? ['--data', dataDir] : []), ...args],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const base = `http://${host}:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/stats`)).ok) break;
    } catch { /* not up yet */ }
    if (child.exitCode !== null || i > 100) throw new Error(`seedcast-signal did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    tracker: `ws://${host}:${port}`,
    stats: async () => (await fetch(`${base}/stats`)).json(),
    /** Stops the server: SIGTERM, then SIGKILL if it has not exited within 5 s. */
    stop: () => new Promise((res) => {
      const done = () => { if (dataDir) rmSync(dataDir, { recursive: true, force: true }); res(); };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.on('exit', () => { clearTimeout(force); done(); });
      child.kill('SIGTERM');
    }),
  };
}

/** For a test file: starts a tracker (serving `www/`) and a headless Chromium before its
 *  tests and stops both after them. Returns `{ signal, browser }`, filled in once the
 *  `before` hook has run. */
export function useSignalAndBrowser() {
  const env = {};
  before(async () => {
    env.signal = await startSignal();
    env.browser = await launchBrowser();
  }, { timeout: 60_000 });
  after(async () => {
    await env.browser?.close();
    await env.signal?.stop();
  }, { timeout: 60_000 });
  return env;
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** Like `launchBrowser`, but also returns the browser's process id (for CPU and memory readings). */
export async function launchBrowserWithPid() {
  const server = await chromium.launchServer({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const browser = await chromium.connect(server.wsEndpoint());
  return { browser, pid: server.process().pid, close: async () => { await browser.close(); await server.close(); } };
}

/** A browser with a real on-disk profile (as users have: OPFS is then disk-backed, where an
 *  incognito context keeps it in memory behind IPC), set up like `newContext`, and its main
 *  process id for CPU and memory readings. Pages of different origins get separate storage. */
export async function launchPersistentWithPid() {
  const dir = mkdtempSync(join(tmpdir(), 'seedcast-profile-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  await prepareContext(context);
  let pid = null;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes(`--user-data-dir=${dir}`) && !cmd.includes('--type=')) pid = Number(name);
    } catch { /* exited meanwhile */ }
  }
  if (!pid) throw new Error('could not find the browser process');
  return { context, pid, close: async () => { await context.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** The minimal example page on `base` (served by seedcast-signal, so it may reach the loopback tracker) with the Seedcast module as `window.Seedcast`.
 *  `dir`: a directory under `base` holding another build of the app (e.g. `ab/`, bench-stream's AB=1). */
export async function openPage(context, base, dir = '') {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  await page.goto(`${base}/${dir}example.html`);
  await page.evaluate(async (dir) => {
    window.Seedcast = await import(`/${dir}seedcast.js`);
    await window.Seedcast.loadSeedcast();
  }, dir);
  return page;
}

/** Rejects with `message` if `promise` takes longer than `ms`. */
/**
 * Opens a page in `context` that seeds `size` bytes of test content (`seed` picks which) as
 * `stored.bin` (kept in `window.seed`); resolves with the page, magnet, info hash and SHA-256.
 */
export async function seedContent(env, context, size, seed) {
  const page = await openPage(context, env.signal.base);
  const info = await page.evaluate(async ({ tracker, size, seed }) => {
    const content = window.testUtils.makeContent(size, seed);
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = await client.seed(new File([content], 'stored.bin'));
    window.seed = { client, torrent };
    return { magnet: torrent.magnetURI, infoHash: torrent.infoHash, digest: await window.testUtils.sha256(content) };
  }, { tracker: env.signal.tracker, size, seed });
  return { page, ...info };
}

export async function within(ms, message, promise) {
  let timer;
  const timeout = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${message} (no result within ${ms / 1000} s)`)), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `fn` until it returns a truthy value; the caller bounds it with `within`. */
export async function until(fn, everyMs = 200) {
  for (;;) {
    const value = await fn();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Helpers installed in every test page as `window.testUtils`; `makeContent` is the Node one
 *  (tests/content.mjs), its source sent into the page, so both make the same bytes. */
function pageHelpers(makeContent) {
  window.testUtils = {
    makeContent,
    /** WebTorrent's chunk store kept in the page (abstract-chunk-store), for benchmarks that
     *  compare it with Seedcast's `storage: 'memory'` (WebTorrent's browser default is persistent). */
    MemoryStore: class {
      constructor(chunkLength) { this.chunkLength = Number(chunkLength); this.chunks = []; }
      put(i, buf, cb) { this.chunks[i] = buf; queueMicrotask(() => cb?.(null)); }
      get(i, opts, cb) {
        if (typeof opts === 'function') { cb = opts; opts = null; }
        const buf = this.chunks[i];
        if (!buf) { queueMicrotask(() => cb(new Error('Chunk not found'))); return; }
        const offset = opts?.offset ?? 0;
        queueMicrotask(() => cb(null, buf.subarray(offset, offset + (opts?.length ?? buf.length - offset))));
      }
      close(cb) { queueMicrotask(() => cb?.(null)); }
      destroy(cb) { this.chunks = []; queueMicrotask(() => cb?.(null)); }
    },
    async sha256(bytes) {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
    },
  };
}
const PAGE_HELPERS = `(${pageHelpers})(${makeContent});`;

/** A fresh browser profile whose pages get `window.testUtils` (and WebTorrent on request). */
export async function newContext(browser) {
  return prepareContext(await browser.newContext());
}

async function prepareContext(context) {
  await context.addInitScript({ content: PAGE_HELPERS });
  await context.route('**/webtorrent.min.js', (route) => route.fulfill({ path: WEBTORRENT_JS, contentType: 'text/javascript' }));
  return context;
}

const STATIC_TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml' };

/** A plain static file server for `dir` on loopback (as any web host would serve a site): not a
 *  tracker, no Seedcast headers. `{ base, close }`. */
export async function staticServer(dir) {
  const server = createHttpServer(async (req, res) => {
    let path;
    try { path = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { res.writeHead(400).end(); return; }
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(dir, `.${path}`);
    if (!file.startsWith(resolve(dir) + sep)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': STATIC_TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((res) => server.close(res)) };
}
