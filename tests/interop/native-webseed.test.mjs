// Web seeds (BEP 19) in the native peer: `seedcast download FILE.torrent --exit-when-done` with
// no peers at all completes from HTTP servers named in the torrent's `url-list`. The good web
// seed is seedcast-signal serving a folder (`--www DIR`); a lying one is a node HTTP server
// answering every range with wrong bytes. Deterministic payloads, SHA-256 checks.
// Run: cargo build -p seedcast -p seedcast-signal --bins &&
//      node --test --test-concurrency=1 tests/interop/native-webseed.test.mjs
//      (SEEDCAST_BIN / SEEDCAST_SIGNAL_BIN override the binaries; www/pkg must exist for
//      seedcast-signal's start check: scripts/build-wasm.sh)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, startSignal, within } from '../browser/harness.mjs';
import { makeContent, sha256 } from '../content.mjs';

const SEEDCAST = resolve(ROOT, process.env.SEEDCAST_BIN ?? 'target/debug/seedcast');
// Loopback only, no multicast socket: what works on any test host (see toolchain notes).
const NATIVE_ENV = { ...process.env, SEEDCAST_UDP_BIND: '127.0.0.1:0', SEEDCAST_MDNS: 'off' };


function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'seedcast-webseed-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `seedcast ARGS` to its end; resolves with { code, signal, stdout, stderr }. */
function runToEnd(args, t, ms) {
  assert.ok(existsSync(SEEDCAST), `seedcast not found at ${SEEDCAST} (build it or set SEEDCAST_BIN)`);
  const child = spawn(SEEDCAST, args, { env: NATIVE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { out.stdout += d; });
  child.stderr.on('data', (d) => { out.stderr = (out.stderr + d).slice(-40_000); });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal, ...out })));
  return within(ms, `seedcast ${args[0]} did not finish`, exited).catch((e) => {
    throw new Error(`${e.message}; stderr: ${out.stderr}`);
  });
}

async function create(t, path, torrent, webSeeds, extra = []) {
  const seeds = webSeeds.flatMap((url) => ['--web-seed', url]);
  const r = await runToEnd(['create', path, '-o', torrent, ...seeds, ...extra], t, 60_000);
  assert.equal(r.code, 0, `create failed: ${r.stderr}`);
}

/** `seedcast download TORRENT -o OUT --exit-when-done` with no tracker: web seeds only. */
async function download(t, torrent, out) {
  const r = await runToEnd(['download', torrent, '-o', out, '--exit-when-done'], t, 120_000);
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.code, 0, `download exited ${r.code}: ${r.stderr}`);
  return r;
}

async function goodSeed(t, www) {
  const signal = await startSignal({ www });
  t.after(() => signal.stop());
  return signal;
}

test('a single file downloads from a web seed alone', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const www = join(dir, 'www');
  mkdirSync(www);
  const content = makeContent(2 * 1024 * 1024 + 4321, 0xbeef);
  writeFileSync(join(www, 'movie.bin'), content);
  const signal = await goodSeed(t, www);
  const torrent = join(dir, 'movie.torrent');
  await create(t, join(www, 'movie.bin'), torrent, [`${signal.base}/movie.bin`], ['--piece-length', '32768']);
  const out = join(dir, 'out');
  const r = await download(t, torrent, out);
  assert.equal(sha256(readFileSync(join(out, 'movie.bin'))), sha256(content), r.stderr);
  assert.match(r.stderr, /download complete/);
});

test('a two-file folder downloads from a web seed alone', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const www = join(dir, 'www');
  const folder = join(www, 'album');
  mkdirSync(folder, { recursive: true });
  // Sizes not multiples of the piece length: pieces span the two files.
  const a = makeContent(1024 * 1024 + 777, 0xa11ce);
  const b = makeContent(700 * 1024 + 5, 0xb0b);
  writeFileSync(join(folder, 'a.bin'), a);
  writeFileSync(join(folder, 'b.bin'), b);
  const signal = await goodSeed(t, www);
  const torrent = join(dir, 'album.torrent');
  // The base URL: the folder's name and each file's path are appended (BEP 19).
  await create(t, folder, torrent, [`${signal.base}/`], ['--piece-length', '32768']);
  const out = join(dir, 'out');
  const r = await download(t, torrent, out);
  assert.equal(sha256(readFileSync(join(out, 'album', 'a.bin'))), sha256(a), r.stderr);
  assert.equal(sha256(readFileSync(join(out, 'album', 'b.bin'))), sha256(b), r.stderr);
});

test('a lying web seed is dropped and the download completes from a good one', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const www = join(dir, 'www');
  mkdirSync(www);
  // Three runs' worth of pieces: more work than the good seed takes at once, so the liar
  // is asked too.
  const content = makeContent(12 * 1024 * 1024, 0x5eed);
  writeFileSync(join(www, 'big.bin'), content);
  const signal = await goodSeed(t, www);

  // Answers every range as asked (206, Content-Range, right length), with the wrong bytes.
  let liarRequests = 0;
  const liar = createServer((req, res) => {
    liarRequests++;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) { res.writeHead(416); res.end(); return; }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), content.length - 1);
    const body = Buffer.alloc(end - start + 1, 0x42);
    res.writeHead(206, {
      'content-range': `bytes ${start}-${end}/${content.length}`,
      'content-length': String(body.length),
    });
    res.end(body);
  });
  await new Promise((res) => liar.listen(0, '127.0.0.1', res));
  t.after(() => new Promise((res) => liar.close(res)));
  const liarUrl = `http://127.0.0.1:${liar.address().port}/big.bin`;

  const torrent = join(dir, 'big.torrent');
  await create(t, join(www, 'big.bin'), torrent, [liarUrl, `${signal.base}/big.bin`], ['--piece-length', '65536']);
  const out = join(dir, 'out');
  const r = await download(t, torrent, out);
  assert.ok(liarRequests > 0, 'the lying web seed was never asked');
  assert.equal(sha256(readFileSync(join(out, 'big.bin'))), sha256(content), r.stderr);
  const dropped = r.stderr.split(/[\r\n]/).filter((l) => l.includes(`web seed ${liarUrl} dropped`));
  assert.equal(dropped.length, 1, `one drop line for the liar; stderr: ${r.stderr}`);
  assert.ok(!r.stderr.includes(`web seed ${signal.base}/big.bin dropped`), r.stderr);
});

test('SIGTERM during a web seed request that never answers exits promptly', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const content = makeContent(256 * 1024, 0x51ee9);
  writeFileSync(join(dir, 'slow.bin'), content);
  // Takes the request and never answers (the fetch's own timeout is 45 s).
  let asked;
  const askedOnce = new Promise((res) => { asked = res; });
  const held = [];
  const slow = createServer((req, res) => { held.push(res); asked(); });
  await new Promise((res) => slow.listen(0, '127.0.0.1', res));
  t.after(() => { for (const r of held) r.destroy(); slow.closeAllConnections(); return new Promise((res) => slow.close(res)); });
  const torrent = join(dir, 'slow.torrent');
  await create(t, join(dir, 'slow.bin'), torrent, [`http://127.0.0.1:${slow.address().port}/slow.bin`]);

  const child = spawn(SEEDCAST, ['download', torrent, '-o', join(dir, 'out')], { env: NATIVE_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20_000); });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  await within(30_000, 'the web seed was never asked', askedOnce);
  child.kill('SIGTERM');
  // Well under the request's 45 s timeout, with room for a slow host.
  const { code, signal } = await within(10_000, `no exit after SIGTERM; stderr: ${stderr}`, exited);
  assert.equal(signal, null, stderr);
  assert.equal(code, 0, stderr);
});
