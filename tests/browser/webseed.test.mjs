// Web seeds (BEP 19) in Chromium: torrents whose `url-list` points at HTTP servers download
// with no peer at all. seedcast-signal --www serving a payload folder is the good web seed;
// small node servers play a seed that lies about some bytes and one that ignores `Range`.
// Every download is checked by SHA-256 against the files on disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, launchBrowser, newContext, openPage, startSignal, within } from './harness.mjs';

const PIECE = 64 * 1024;
const env = {};
let dir;
let payload;

/** Deterministic bytes (an xorshift stream), different per `seed`. */
function bytes(size, seed) {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x & 0xff; }
  return out;
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** `seedcast create PATH` with the given web seeds; returns the .torrent bytes. */
function makeTorrent(path, webSeeds) {
  const out = join(dir, `t-${Math.random().toString(36).slice(2)}.torrent`);
  const bin = resolve(ROOT, process.env.SEEDCAST_BIN ?? 'target/debug/seedcast');
  const args = ['create', path, '-o', out, '--piece-length', String(PIECE)];
  for (const url of webSeeds) args.push('--web-seed', url);
  execFileSync(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return readFileSync(out);
}

/** A node HTTP server over `payload` with CORS; `answer(req, res, file)` writes the reply. */
async function httpServer(answer) {
  const server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'Content-Range, Content-Length');
    if (req.method === 'OPTIONS') { server.preflights += 1; res.writeHead(204).end(); return; }
    let file;
    try {
      file = readFileSync(join(payload, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    } catch {
      res.writeHead(404).end();
      return;
    }
    server.requests += 1;
    answer(req, res, file);
  });
  server.requests = 0;
  server.preflights = 0;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.base = `http://127.0.0.1:${server.address().port}`;
  return server;
}

/** Range answers like a real server; `tamper(start, body)` may change the bytes sent. */
function ranged(tamper = () => {}) {
  return (req, res, file) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) { res.writeHead(200, { 'content-length': file.length }).end(file); return; }
    const [start, end] = [Number(m[1]), Math.min(Number(m[2]), file.length - 1)];
    const body = Buffer.from(file.subarray(start, end + 1));
    tamper(start, body);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${file.length}`, 'content-length': body.length }).end(body);
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seedcast-webseed-'));
  payload = join(dir, 'payload');
  mkdirSync(join(payload, 'single'), { recursive: true });
  mkdirSync(join(payload, 'pack', 'sub dir'), { recursive: true });
  writeFileSync(join(payload, 'single', 'movie one.bin'), bytes(3 * 1024 * 1024 + 777, 1));
  writeFileSync(join(payload, 'single', 'small.bin'), bytes(200 * 1024 + 3, 2));
  writeFileSync(join(payload, 'pack', 'a.bin'), bytes(700 * 1024 + 11, 3));
  writeFileSync(join(payload, 'pack', 'sub dir', 'b#1.bin'), bytes(300 * 1024 + 5, 4));
  writeFileSync(join(payload, 'pack', 'c.bin'), bytes(1024 * 1024, 5));
  env.signal = await startSignal();
  env.seed = await startSignal({ www: payload });
  env.browser = await launchBrowser();
}, { timeout: 60_000 });

after(async () => {
  await env.browser?.close();
  await env.signal?.stop();
  await env.seed?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, { timeout: 60_000 });

/** Downloads `torrent` (bytes) in a fresh profile with no peers; resolves with the files'
 *  SHA-256 by path, the warnings, and the final stats. */
async function download(torrent) {
  const page = await openPage(await newContext(env.browser), env.signal.base);
  const result = await within(90_000, 'the download did not finish', page.evaluate(async ({ torrent, tracker }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const t = client.add(new Uint8Array(torrent));
    const warnings = [];
    t.addEventListener('warning', (e) => warnings.push(e.detail.message));
    await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`not done: ${JSON.stringify(t.stats())} ${warnings}`)), 80_000);
      const check = () => { if (t.stats().done) { clearTimeout(timer); res(); } };
      t.addEventListener('done', check);
      t.addEventListener('progress', check);
      check();
    });
    const files = {};
    for (const f of t.files) files[f.path] = await window.testUtils.sha256(await f.bytes());
    return { files, warnings, stats: t.stats() };
  }, { torrent: [...torrent], tracker: env.signal.tracker }));
  assert.deepEqual(page.errors, []);
  await page.context().close();
  return result;
}

function expected(...paths) {
  return Object.fromEntries(paths.map((p) => [p.replace(/^single\//, ''), sha256(readFileSync(join(payload, p)))]));
}

test('a single-file torrent with no peers downloads from seedcast-signal --www as a web seed', { timeout: 120_000 }, async () => {
  const torrent = makeTorrent(join(payload, 'single', 'movie one.bin'), [`${env.seed.base}/single/`]);
  const { files, warnings, stats } = await download(torrent);
  assert.deepEqual(files, expected('single/movie one.bin'));
  assert.deepEqual(warnings, []);
  assert.equal(stats.peers, 0);
  assert.equal(stats.webSeeds.length, 1);
  assert.ok(stats.webSeeds[0].downloaded >= 3 * 1024 * 1024, JSON.stringify(stats.webSeeds));
  assert.equal(stats.webSeeds[0].state, 'ready');
  assert.equal(typeof stats.webSeeds[0].downloadSpeed, 'number');
});

test('a multi-file torrent downloads from a web seed (URL/name/path, encoded)', { timeout: 120_000 }, async () => {
  const torrent = makeTorrent(join(payload, 'pack'), [env.seed.base]);
  const { files, warnings } = await download(torrent);
  assert.deepEqual(files, expected('pack/a.bin', 'pack/sub dir/b#1.bin', 'pack/c.bin'));
  assert.deepEqual(warnings, []);
});

test('a web seed that serves wrong bytes is dropped with a warning and a good one finishes', { timeout: 120_000 }, async () => {
  // The liar flips a byte in every range that starts at the beginning of the file.
  const liar = await httpServer(ranged((start, body) => { if (start === 0) body[100] ^= 0xff; }));
  try {
    const torrent = makeTorrent(join(payload, 'single', 'movie one.bin'), [`${liar.base}/single/`, `${env.seed.base}/single/`]);
    const { files, warnings, stats } = await download(torrent);
    assert.deepEqual(files, expected('single/movie one.bin'));
    assert.ok(liar.requests > 0, 'the liar was never asked');
    assert.equal(liar.preflights, 0, 'a single Range is CORS-safelisted: no preflight');
    assert.ok(warnings.some((w) => w.includes(liar.base) && /dropped: served bad data/.test(w)), JSON.stringify(warnings));
    const liarStats = stats.webSeeds.find((s) => s.url.startsWith(liar.base));
    assert.match(liarStats.state, /^dropped/);
  } finally {
    liar.close();
  }
});

test('a server that ignores Range: a small file is used whole, a large one drops the seed', { timeout: 120_000 }, async () => {
  const whole = await httpServer((req, res, file) => res.writeHead(200, { 'content-length': file.length }).end(file));
  try {
    // 200 KiB: read whole (within the bound), the download completes from it alone.
    let torrent = makeTorrent(join(payload, 'single', 'small.bin'), [`${whole.base}/single/small.bin`]);
    let result = await download(torrent);
    assert.deepEqual(result.files, expected('single/small.bin'));
    assert.deepEqual(result.warnings, []);
    // 3 MiB: the seed is dropped ("no ranges") and the good seed finishes.
    torrent = makeTorrent(join(payload, 'single', 'movie one.bin'), [`${whole.base}/single/`, `${env.seed.base}/single/`]);
    result = await download(torrent);
    assert.deepEqual(result.files, expected('single/movie one.bin'));
    assert.ok(result.warnings.some((w) => w.includes(whole.base) && /range requests/.test(w)), JSON.stringify(result.warnings));
  } finally {
    whole.close();
  }
});

test("a magnet's ws= web seeds are used (listed in stats; refused ones are warnings)", { timeout: 60_000 }, async () => {
  const page = await openPage(await newContext(env.browser), env.signal.base);
  const seen = await page.evaluate(async (tracker) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const warnings = [];
    const ws = encodeURIComponent('http://127.0.0.1:1/seed/');
    const bad = encodeURIComponent('ftp://127.0.0.1/x');
    const t = client.add(`magnet:?xt=urn:btih:${'ab'.repeat(20)}&ws=${ws}&ws=${bad}`);
    t.addEventListener('warning', (e) => warnings.push(e.detail.message));
    // Warnings arrive from a microtask: wait for the one expected.
    while (!warnings.length) await new Promise((r) => setTimeout(r, 20));
    return { urls: t.stats().webSeeds.map((s) => s.url), warnings };
  }, env.signal.tracker);
  assert.deepEqual(seen.urls, ['http://127.0.0.1:1/seed/']);
  assert.ok(seen.warnings.some((w) => w.includes('ftp://127.0.0.1/x')), JSON.stringify(seen.warnings));
  await page.context().close();
});
