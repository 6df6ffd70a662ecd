// The native peer (`seedcast seed` / `seedcast download`, WebRTC through the `webrtc` crate)
// against Seedcast and WebTorrent 3 in Chromium and against itself, through seedcast-signal.
// Deterministic payloads, SHA-256 checks.
// Run: bash scripts/build-wasm.sh && cargo build -p seedcast -p seedcast-signal --bins &&
//      node --test --test-concurrency=1 tests/interop/native.test.mjs
//      (SEEDCAST_BIN / SEEDCAST_SIGNAL_BIN override the binaries)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, startSignal, useSignalAndBrowser, newContext, openPage, until, within } from '../browser/harness.mjs';
import { makeContent, sha256 } from '../content.mjs';

const SEEDCAST = resolve(ROOT, process.env.SEEDCAST_BIN ?? 'target/debug/seedcast');
// Loopback only, no multicast socket: what works on any test host (see toolchain notes).
const NATIVE_ENV = { ...process.env, SEEDCAST_UDP_BIND: '127.0.0.1:0', SEEDCAST_MDNS: 'off' };

const env = useSignalAndBrowser();


function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'seedcast-native-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `seedcast ARGS`; collects stdout/stderr; `exited` resolves with { code, signal }. */
function run(args, t) {
  const child = spawn(SEEDCAST, args, { env: NATIVE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { out.stdout += d; });
  child.stderr.on('data', (d) => { out.stderr = (out.stderr + d).slice(-20_000); });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, out, exited };
}

/** `seedcast seed PATH --tracker T`; resolves once the magnet (first stdout line) is printed. */
async function nativeSeed(t, path, extra = [], tracker = env.signal.tracker) {
  assert.ok(existsSync(SEEDCAST), `seedcast not found at ${SEEDCAST} (build it or set SEEDCAST_BIN)`);
  const proc = run(['seed', path, '--tracker', tracker, ...extra], t);
  const magnet = await within(60_000, 'seed printed no magnet', new Promise((res, rej) => {
    const check = () => { const nl = proc.out.stdout.indexOf('\n'); if (nl >= 0) res(proc.out.stdout.slice(0, nl)); };
    proc.child.stdout.on('data', check);
    proc.exited.then(({ code }) => rej(new Error(`seed exited (${code}) before printing a magnet: ${proc.out.stderr}`)));
  }));
  assert.match(magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}/);
  return { ...proc, magnet };
}

/** SIGTERM, then the process must exit 0 by itself (stopped announces, channels closed). */
async function stopGracefully(proc) {
  proc.child.kill('SIGTERM');
  const { code, signal } = await within(15_000, 'seedcast did not exit after SIGTERM', proc.exited);
  assert.equal(signal, null, `killed by ${signal}: ${proc.out.stderr}`);
  assert.equal(code, 0, `exit code ${code}: ${proc.out.stderr}`);
}

async function webTorrentPage() {
  const page = await (await newContext(env.browser)).newPage();
  await page.goto(`${env.signal.base}/example.html`);
  await page.evaluate(async () => { window.WebTorrent = (await import('/webtorrent.min.js')).default; });
  return page;
}

test('Seedcast in Chromium downloads from a native seeder', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const content = makeContent(3 * 1024 * 1024 + 12345, 0xc0ffee);
  const file = join(dir, 'native-to-seedcast.bin');
  writeFileSync(file, content);
  const seeder = await nativeSeed(t, file);
  assert.equal(seeder.out.stdout.trim().split('\n').length, 1, 'stdout carries only the magnet');
  assert.ok(seeder.magnet.includes(`tr=${encodeURIComponent(env.signal.tracker)}`), 'the magnet names the tracker');

  const page = await openPage(await newContext(env.browser), env.signal.base);
  const started = Date.now();
  const got = await within(90_000, `Seedcast did not finish downloading from the native seeder; seeder log: ${seeder.out.stderr}`,
    page.evaluate(async ({ magnet, tracker }) => {
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
      const torrent = client.add(magnet);
      await new Promise((res) => torrent.addEventListener('done', res));
      const [f] = torrent.files;
      return { name: f.name, length: f.length, digest: await window.testUtils.sha256(await f.bytes()) };
    }, { magnet: seeder.magnet, tracker: env.signal.tracker }));
  t.diagnostic(`native → Seedcast: ${(content.length / 1048576).toFixed(1)} MiB in ${Date.now() - started} ms (incl. connect)`);
  assert.equal(got.name, 'native-to-seedcast.bin');
  assert.equal(got.length, content.length);
  assert.equal(got.digest, sha256(content));
  await page.context().close();
  await stopGracefully(seeder);
});

test('WebTorrent 3 in Chromium downloads from a native seeder', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const content = makeContent(2 * 1024 * 1024 + 777, 0xfeed);
  const file = join(dir, 'native-to-webtorrent.bin');
  writeFileSync(file, content);
  const seeder = await nativeSeed(t, file);

  const wt = await webTorrentPage();
  const got = await within(90_000, `WebTorrent did not finish downloading from the native seeder; seeder log: ${seeder.out.stderr}`,
    wt.evaluate(async ({ magnet, tracker }) => {
      const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      const torrent = client.add(magnet, { announce: [tracker] });
      await new Promise((res, rej) => { torrent.on('done', res); torrent.on('error', rej); });
      const f = torrent.files[0];
      return { name: f.name, digest: await window.testUtils.sha256(await f.arrayBuffer()) };
    }, { magnet: seeder.magnet, tracker: env.signal.tracker }));
  assert.equal(got.name, 'native-to-webtorrent.bin');
  assert.equal(got.digest, sha256(content));
  await wt.context().close();
  await stopGracefully(seeder);
});

test('seedcast download fetches metadata and content from WebTorrent in Chromium', { timeout: 180_000 }, async (t) => {
  const size = 2 * 1024 * 1024 + 4321;
  const wt = await webTorrentPage();
  const { magnet, digest } = await wt.evaluate(async ({ tracker, size }) => {
    const content = window.testUtils.makeContent(size, 0xabcdef);
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    const torrent = await new Promise((res) => client.seed(new File([content], 'from-webtorrent.bin'), { announce: [tracker] }, res));
    return { magnet: torrent.magnetURI, digest: await window.testUtils.sha256(content) };
  }, { tracker: env.signal.tracker, size });
  assert.equal(digest, sha256(makeContent(size, 0xabcdef)), 'page and test make the same content');

  const dir = tempDir(t);
  const started = Date.now();
  const proc = run(['download', magnet, '-o', dir, '--exit-when-done'], t);
  const { code } = await within(90_000, 'seedcast download did not finish', proc.exited);
  t.diagnostic(`WebTorrent → native: ${(size / 1048576).toFixed(1)} MiB in ${Date.now() - started} ms (incl. startup, metadata)`);
  assert.equal(code, 0, proc.out.stderr);
  assert.equal(proc.out.stdout, '', 'download prints nothing on stdout');
  const got = readFileSync(join(dir, 'from-webtorrent.bin'));
  assert.equal(got.length, size);
  assert.equal(sha256(got), digest);
  await wt.context().close();
});

test('native seeder to native downloader, a two-file folder', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const folder = join(dir, 'share', 'album');
  mkdirSync(join(folder, 'disc 2'), { recursive: true });
  const first = makeContent(1024 * 1024 + 3, 1);
  const second = makeContent(700 * 1024 + 11, 2);
  writeFileSync(join(folder, 'one.bin'), first);
  writeFileSync(join(folder, 'disc 2', 'two.bin'), second);
  const torrentFile = join(dir, 'album.torrent');
  const seeder = await nativeSeed(t, folder, ['--torrent-out', torrentFile]);
  assert.ok(existsSync(torrentFile), '--torrent-out is written before seeding starts');

  const out = join(dir, 'downloads');
  const proc = run(['download', seeder.magnet, '-o', out, '--exit-when-done'], t);
  const { code } = await within(90_000, `seedcast download did not finish; seeder log: ${seeder.out.stderr}`, proc.exited);
  assert.equal(code, 0, proc.out.stderr);
  assert.equal(sha256(readFileSync(join(out, 'album', 'one.bin'))), sha256(first));
  assert.equal(sha256(readFileSync(join(out, 'album', 'disc 2', 'two.bin'))), sha256(second));
  await stopGracefully(seeder);

  // Run again with nobody seeding: it can only finish from what is on disk (resume).
  const again = run(['download', seeder.magnet, '-o', out, '--exit-when-done'], t);
  const rerun = await within(30_000, 'a rerun over a finished download did not exit', again.exited);
  assert.equal(rerun.code, 0, again.out.stderr);
  assert.equal(sha256(readFileSync(join(out, 'album', 'one.bin'))), sha256(first));
});

test('a seeder stopped by SIGTERM tells the tracker and exits 0', { timeout: 60_000 }, async (t) => {
  // Its own tracker with a long interval: the only announces are `started` and `stopped`.
  const signal = await startSignal({ intervalSecs: 600 });
  t.after(() => signal.stop());
  const dir = tempDir(t);
  const file = join(dir, 'short-lived.bin');
  writeFileSync(file, makeContent(100_000, 9));
  const seeder = await nativeSeed(t, file, [], signal.tracker);
  await within(20_000, 'the seeder never announced', until(async () => (await signal.stats()).seeders === 1));
  assert.equal((await signal.stats()).announces, 1);
  await stopGracefully(seeder);
  const stats = await signal.stats();
  assert.equal(stats.announces, 2, 'a `stopped` announce was sent before exiting');
  assert.equal(stats.seeders, 0);
});

test('--upload-limit caps what a seeder sends', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const size = 1536 * 1024;
  const limit = 256 * 1024;
  const content = makeContent(size, 5);
  const file = join(dir, 'limited.bin');
  writeFileSync(file, content);
  const seeder = await nativeSeed(t, file, ['--upload-limit', String(limit)]);
  const out = join(dir, 'out');
  const started = Date.now();
  const proc = run(['download', seeder.magnet, '-o', out, '--exit-when-done'], t);
  const { code } = await within(90_000, 'the limited download did not finish', proc.exited);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(code, 0, proc.out.stderr);
  assert.equal(sha256(readFileSync(join(out, 'limited.bin'))), sha256(content));
  // Everything but a quarter-second burst goes at the limit (unlimited, this takes ~1 s).
  const floor = (size - limit / 4) / limit;
  t.diagnostic(`${size} bytes at ${limit} B/s took ${seconds.toFixed(1)} s (floor ${floor.toFixed(1)} s)`);
  assert.ok(seconds >= floor * 0.95, `took ${seconds} s, faster than the limit allows`);
  await stopGracefully(seeder);
});
