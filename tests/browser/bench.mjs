// Benchmark: one file between two pages of one headless Chromium (a real on-disk profile,
// pages of two origins), seedcast vs WebTorrent,
// side by side in the same run. Prints MB/s, CPU milliseconds per MiB of the whole browser
// process tree, and peak renderer RSS. Usage: node tests/browser/bench.mjs [MiB ...]
// (default 64 256). Needs www/pkg (scripts/build-wasm.sh) and seedcast-signal.
// SEEDCAST_STORAGE=memory|opfs|indexeddb picks the downloader's storage (default auto).
import { startSignal, launchPersistentWithPid, openPage, within } from './harness.mjs';
import { tree, cpuMs } from './proc.mjs';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const SIZES_MIB = sizes.length ? sizes : [64, 256];
const seedcast = {
  name: 'seedcast',
  async seed(page, tracker, size) {
    return page.evaluate(async ({ tracker, size }) => {
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
      window.keep = client;
      const magnet = (await client.seed(new File([window.testUtils.makeContent(size)], 'bench.bin'))).magnetURI;
      window.gc?.(); // the generated content is garbage now: page memory is the client's own
      return magnet;
    }, { tracker, size });
  },
  async download(page, tracker, magnet) {
    return page.evaluate(async ({ tracker, magnet, storage }) => {
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage });
      const torrent = client.add(magnet);
      await new Promise((res) => torrent.addEventListener('done', res));
      return torrent.stats().verified;
    }, { tracker, magnet, storage: process.env.SEEDCAST_STORAGE ?? 'auto' });
  },
};

const webtorrent = {
  name: 'WebTorrent 3.0.21',
  async seed(page, tracker, size) {
    return page.evaluate(async ({ tracker, size }) => {
      const WebTorrent = (await import('/webtorrent.min.js')).default;
      const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      window.keep = client;
      const file = new File([window.testUtils.makeContent(size)], 'bench.bin');
      const magnet = await new Promise((res) => client.seed(file, { announce: [tracker] }, (t) => res(t.magnetURI)));
      window.gc?.();
      return magnet;
    }, { tracker, size });
  },
  async download(page, tracker, magnet) {
    return page.evaluate(async ({ tracker, magnet }) => {
      const WebTorrent = (await import('/webtorrent.min.js')).default;
      const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      const torrent = client.add(magnet, { announce: [tracker] });
      await new Promise((res, rej) => { torrent.on('done', res); torrent.on('error', rej); });
      return torrent.downloaded;
    }, { tracker, magnet });
  },
};

async function run(impl, sizeMiB, signal, otherOrigin) {
  // One browser with an on-disk profile, as a user has. The two pages are of different
  // origins (127.0.0.1 and 127.0.0.2), so each has its own storage: WebTorrent would
  // otherwise find the seeder's pieces in the shared origin storage and skip the network.
  const { context, pid, close } = await launchPersistentWithPid();
  try {
    const seeder = await openPage(context, signal.base);
    const seederRenderers = new Set(tree(pid).filter((p) => p.renderer).map((p) => p.pid));
    const leecher = await openPage(context, otherOrigin.base);
    const magnet = await within(300_000, `${impl.name} did not finish hashing ${sizeMiB} MiB`, impl.seed(seeder, signal.tracker, sizeMiB * 2 ** 20));
    // Peak RSS of the seeder's renderer(s) and of the downloader's (the other origin's).
    let seederPeak = 0, leecherPeak = 0;
    const sampler = setInterval(() => {
      for (const p of tree(pid)) {
        if (!p.renderer) continue;
        if (seederRenderers.has(p.pid)) seederPeak = Math.max(seederPeak, p.rssKiB);
        else leecherPeak = Math.max(leecherPeak, p.rssKiB);
      }
    }, 200);
    const cpuBefore = cpuMs(pid);
    const start = performance.now();
    const bytes = await within(600_000, `${impl.name} did not finish downloading ${sizeMiB} MiB`, impl.download(leecher, signal.tracker, magnet));
    const seconds = (performance.now() - start) / 1000;
    const cpu = cpuMs(pid) - cpuBefore;
    clearInterval(sampler);
    if (bytes < sizeMiB * 2 ** 20) throw new Error(`${impl.name} downloaded only ${bytes} bytes`);
    return { impl: impl.name, sizeMiB, mbps: (sizeMiB * 2 ** 20) / 1e6 / seconds, cpuPerMiB: cpu / sizeMiB, seederRssMiB: seederPeak / 1024, leecherRssMiB: leecherPeak / 1024 };
  } finally {
    await close();
  }
}

// BENCH_ONLY=seedcast skips WebTorrent (for quick tuning runs; comparisons need both).
const IMPLS = [seedcast, webtorrent].filter((i) => !process.env.BENCH_ONLY || i.name.startsWith(process.env.BENCH_ONLY));
const signal = await startSignal();
// Serves the same pages from a second origin (its tracker is not used).
const otherOrigin = await startSignal({ host: '127.0.0.2' });
const results = [];
try {
  for (const sizeMiB of SIZES_MIB) {
    for (const impl of IMPLS) {
      const r = await run(impl, sizeMiB, signal, otherOrigin);
      results.push(r);
      console.log(`${r.impl.padEnd(18)} ${String(sizeMiB).padStart(4)} MiB  ${r.mbps.toFixed(1).padStart(6)} MB/s  ${r.cpuPerMiB.toFixed(0).padStart(5)} ms CPU/MiB  peak renderer RSS: downloader ${r.leecherRssMiB.toFixed(0)} MiB, seeder ${r.seederRssMiB.toFixed(0)} MiB`);
    }
    const [s, w] = results.slice(-2);
    if (IMPLS.length === 2) console.log(`  seedcast/WebTorrent at ${sizeMiB} MiB: throughput ×${(s.mbps / w.mbps).toFixed(2)}, CPU per MiB ×${(s.cpuPerMiB / w.cpuPerMiB).toFixed(2)}`);
  }
} finally {
  await signal.stop();
  await otherOrigin.stop();
}
