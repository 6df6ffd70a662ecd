// Benchmark (`make bench-native`): the native peer beside the browser, in one run, REPS times each:
//   browser → browser  two pages of one Chromium (two origins), seedcast on both sides;
//   native → browser   `seedcast seed FILE`, a page downloads it;
//   browser → native   a page seeds, `seedcast download MAGNET --exit-when-done` fetches it into a temp dir.
// Prints MB/s and CPU milliseconds per MiB: the whole browser process tree plus the native process.
// Clocks: a page is timed from `SeedcastClient.create()` + `add()` to its `done` event; the native
// downloader from its spawn to its exit (process start, tracker connection and writing to disk
// included). Seeders have hashed before any clock starts. Pages download into memory.
// Usage: node tests/browser/bench-native.mjs [MiB] (default 64); REPS=3. Needs www/pkg, seedcast and seedcast-signal.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, startSignal, launchPersistentWithPid, openPage, within } from './harness.mjs';
import { cpuMs } from './proc.mjs';
import { makeContent, sha256 } from '../content.mjs';

const SIZE_MIB = Number(process.argv[2]) || 64;
const SIZE = SIZE_MIB * 2 ** 20;
const REPS = Number(process.env.REPS) || 3;
const SEEDCAST = resolve(ROOT, process.env.SEEDCAST_BIN ?? 'target/release/seedcast');



async function pageSeed(page, tracker) {
  return page.evaluate(async ({ tracker, size }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    window.keep = client;
    const magnet = (await client.seed(new File([window.testUtils.makeContent(size)], 'bench.bin'))).magnetURI;
    window.gc?.();
    return magnet;
  }, { tracker, size: SIZE });
}

async function pageDownload(page, tracker, magnet) {
  return page.evaluate(async ({ tracker, magnet }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage: 'memory' });
    window.keepLeecher = client;
    const torrent = client.add(magnet);
    await new Promise((res) => torrent.addEventListener('done', res));
    return torrent.stats().verified;
  }, { tracker, magnet });
}

/** `seedcast seed FILE`: resolves once its first stdout line (the magnet) arrived. */
async function nativeSeed(file, tracker) {
  const child = spawn(SEEDCAST, ['seed', file, '--tracker', tracker], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const lines = createInterface({ input: child.stdout });
  const magnet = await within(120_000, 'seedcast seed printed no magnet', new Promise((res, rej) => {
    lines.once('line', res);
    child.once('exit', (code) => rej(new Error(`seedcast seed exited ${code}: ${stderr}`)));
  }));
  return {
    magnet,
    pid: child.pid,
    stop: () => new Promise((res) => { if (child.exitCode !== null) return res(); child.once('exit', res); child.kill('SIGTERM'); }),
  };
}

/** `seedcast download MAGNET --exit-when-done`; resolves with its wall time and CPU time (through the shell's `times`). */
async function nativeDownload(magnet, tracker, dir) {
  const start = performance.now();
  const child = spawn('/bin/sh', ['-c', '"$0" "$@"; rc=$?; times >&2; exit $rc', SEEDCAST, 'download', magnet,
    '-o', dir, '--tracker', tracker, '--exit-when-done'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((res) => child.once('exit', res));
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`seedcast download exited ${code}: ${stderr.slice(-2000)}`);
  // `times` prints the shell's own user/system times, then its children's.
  const children = stderr.trim().split('\n').pop().match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
  if (!children) throw new Error(`no CPU times in: ${stderr.slice(-500)}`);
  const cpu = (Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4])) * 1000;
  return { seconds, cpu };
}

const result = (direction, seconds, cpu) => ({ direction, mbps: SIZE / 1e6 / seconds, cpuPerMiB: cpu / SIZE_MIB });

async function browserToBrowser(signal, other) {
  const { context, pid, close } = await launchPersistentWithPid();
  try {
    const seeder = await openPage(context, signal.base);
    const leecher = await openPage(context, other.base);
    const magnet = await within(300_000, 'the page did not finish hashing', pageSeed(seeder, signal.tracker));
    const cpuBefore = cpuMs(pid);
    const start = performance.now();
    const bytes = await within(600_000, 'browser → browser did not finish', pageDownload(leecher, signal.tracker, magnet));
    if (bytes < SIZE) throw new Error(`browser → browser: only ${bytes} bytes`);
    return result('browser → browser', (performance.now() - start) / 1000, cpuMs(pid) - cpuBefore);
  } finally {
    await close();
  }
}

async function nativeToBrowser(signal, file) {
  const seeder = await nativeSeed(file, signal.tracker);
  const { context, pid, close } = await launchPersistentWithPid();
  try {
    const leecher = await openPage(context, signal.base);
    const cpuBefore = cpuMs(pid) + cpuMs(seeder.pid);
    const start = performance.now();
    const bytes = await within(600_000, 'native → browser did not finish', pageDownload(leecher, signal.tracker, seeder.magnet));
    const seconds = (performance.now() - start) / 1000;
    const cpu = cpuMs(pid) + cpuMs(seeder.pid) - cpuBefore;
    if (bytes < SIZE) throw new Error(`native → browser: only ${bytes} bytes`);
    return result('native → browser', seconds, cpu);
  } finally {
    await close();
    await seeder.stop();
  }
}

async function browserToNative(signal, digest) {
  const { context, pid, close } = await launchPersistentWithPid();
  const dir = mkdtempSync(join(tmpdir(), 'seedcast-bench-native-'));
  try {
    const seeder = await openPage(context, signal.base);
    const magnet = await within(300_000, 'the page did not finish hashing', pageSeed(seeder, signal.tracker));
    const cpuBefore = cpuMs(pid);
    const { seconds, cpu } = await within(600_000, 'browser → native did not finish', nativeDownload(magnet, signal.tracker, dir));
    const browserCpu = cpuMs(pid) - cpuBefore;
    if (sha256(readFileSync(join(dir, 'bench.bin'))) !== digest) throw new Error('browser → native: the file differs');
    return result('browser → native', seconds, cpu + browserCpu);
  } finally {
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const work = mkdtempSync(join(tmpdir(), 'seedcast-bench-native-src-'));
const file = join(work, 'bench.bin');
const content = makeContent(SIZE);
writeFileSync(file, content);
const digest = sha256(content);
const signal = await startSignal();
const other = await startSignal({ host: '127.0.0.2' });
const rows = [];
try {
  for (let rep = 1; rep <= REPS; rep++) {
    for (const run of [() => browserToBrowser(signal, other), () => nativeToBrowser(signal, file), () => browserToNative(signal, digest)]) {
      const r = await run();
      rows.push(r);
      console.log(`run ${rep}  ${r.direction.padEnd(18)} ${SIZE_MIB} MiB  ${r.mbps.toFixed(1).padStart(6)} MB/s  ${r.cpuPerMiB.toFixed(0).padStart(5)} ms CPU/MiB`);
    }
  }
  console.log(`\nsummary over ${REPS} runs (min–max), ${SIZE_MIB} MiB:`);
  for (const direction of ['browser → browser', 'native → browser', 'browser → native']) {
    const mine = rows.filter((r) => r.direction === direction);
    const range = (key, digits) => `${Math.min(...mine.map((r) => r[key])).toFixed(digits)}–${Math.max(...mine.map((r) => r[key])).toFixed(digits)}`;
    console.log(`  ${direction.padEnd(18)} ${range('mbps', 1).padStart(11)} MB/s  ${range('cpuPerMiB', 0).padStart(9)} ms CPU/MiB`);
  }
} finally {
  await signal.stop();
  await other.stop();
  rmSync(work, { recursive: true, force: true });
}
