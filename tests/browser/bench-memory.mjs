// Benchmark: page memory while streaming a large video (default ~1 GiB, 120 s of 720p at
// 68 Mbit/s) — issue 5's "at most 100 MiB more than playing the same file from plain HTTP,
// whatever the file size". In one browser with an on-disk profile:
//   seedcast — a page (origin 127.0.0.1) seeds the file; the viewer (origin 127.0.0.2, its
//              own renderer) opens embed.html#magnet, plays, and keeps playing while the
//              whole file downloads into browser storage; then seeks to 90% and plays on;
//   HTTP     — a viewer plays the same file from a plain HTTP server for as long, and seeks
//              the same way.
// Prints the viewer renderer's peak RSS for both and the difference. Diagnostics: MODE=download
// (a page that only downloads), FORCE_GC=1 (collect the page's garbage every 250 ms),
// FORCE_GC=all (the service workers' and the storage worker's too), DUMP=1 (Chromium's own
// breakdown of the viewer renderer's memory), ALLOC_PROFILE=1 (where the page allocates JS
// memory while it downloads).
//   node tests/browser/bench-memory.mjs        (MBITS=68 SECONDS=120 by default)
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSignal, launchPersistentWithPid, openPage, within, until } from './harness.mjs';
import { renderers, memoryBreakdown } from './proc.mjs';
import { serveFile } from './media-server.mjs';

const MBITS = Number(process.env.MBITS ?? 68);
const SECONDS = Number(process.env.SECONDS ?? 120);
const VIDEO = join(tmpdir(), `seedcast-bench-${SECONDS}s-${MBITS}M.mp4`);
if (!existsSync(VIDEO)) {
  console.log(`generating a ${SECONDS} s 720p MP4 at ${MBITS} Mbit/s with ffmpeg (kept at ${VIDEO})...`);
  // Constant bitrate with filler: a predictable size from a cheap synthetic source.
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i',
    'sine=frequency=440:sample_rate=48000', '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    '-g', '60', '-b:v', `${MBITS}M`, '-minrate', `${MBITS}M`, '-maxrate', `${MBITS}M`, '-bufsize', `${MBITS}M`,
    '-x264-params', 'nal-hrd=cbr', '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', `${VIDEO}.part.mp4`]);
  execFileSync('mv', [`${VIDEO}.part.mp4`, VIDEO]);
}
const SIZE = statSync(VIDEO).size;
console.log(`video: ${(SIZE / 2 ** 20).toFixed(0)} MiB`);

let httpServed = 0;
const http = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  res.setHeader('Access-Control-Allow-Origin', '*'); // the seeder page fetches the file
  if (path === '/video.mp4') return serveFile(req, res, VIDEO, SIZE, 'video/mp4', 0, (n) => { httpServed += n; });
  if (path === '/http.html') {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><meta charset="utf-8"><video muted autoplay controls src="/video.mp4"></video>');
    return;
  }
  res.writeHead(404);
  res.end();
});
await new Promise((r) => http.listen(0, '127.0.0.3', r));
const httpBase = `http://127.0.0.3:${http.address().port}`;

const signal = await startSignal();
const viewerOrigin = await startSignal({ host: '127.0.0.2' });
const { context, pid, close } = await launchPersistentWithPid();

/** Opens `url` in a new page and samples the RSS of the renderers that appear for it.
 *  `play` false: a page that only downloads (MODE=download, to tell playback's share). */
async function viewer(url, play = true) {
  const before = new Set(renderers(pid).map((p) => p.pid));
  const page = await context.newPage();
  // Peak per phase too (`sample.phase` is set as the run goes), to tell when the peak comes.
  const sample = { peak: 0, last: 0, pids: [], phase: 'start', peaks: {} };
  const timer = setInterval(() => {
    const mine = renderers(pid).filter((p) => !before.has(p.pid));
    sample.pids = mine.map((p) => p.pid);
    const rss = mine.reduce((sum, p) => sum + p.rssKiB, 0);
    sample.last = rss / 1024;
    sample.peak = Math.max(sample.peak, sample.last);
    sample.peaks[sample.phase] = Math.max(sample.peaks[sample.phase] ?? 0, sample.last);
  }, 250);
  // Diagnostic: FORCE_GC=1 collects garbage every 250 ms in the page (to tell dead buffers
  // waiting for the collector from memory in use).
  if (process.env.FORCE_GC) await page.addInitScript(() => setInterval(() => window.gc?.(), 250));
  // ...and in the service workers and the page's dedicated (storage) worker too
  // (FORCE_GC=all), whose heaps the page's gc() misses.
  const swGc = process.env.FORCE_GC === 'all' && setInterval(() => {
    for (const worker of [...context.serviceWorkers(), ...page.workers()]) worker.evaluate(() => globalThis.gc?.()).catch(() => {});
  }, 250);
  // How many bytes the player pulled through the service worker (stream-host's trace).
  await page.addInitScript(() => { globalThis.seedcastTrace = []; });
  await page.goto(url);
  const video = () => page.evaluate(() => {
    const v = document.querySelector('video') ?? document.querySelector('seedcast-player')?.shadowRoot?.querySelector('video');
    return v && { time: v.currentTime, duration: v.duration };
  });
  if (play) await within(60_000, `${url}: playback did not start`, until(async () => (await video())?.time > 0.5));
  sample.phase = 'playing';
  // Diagnostic: DUMP=1 prints Chromium's memory-infra breakdown of the viewer's renderer.
  const dump = async (label) => {
    if (!process.env.DUMP) return;
    const rows = await memoryBreakdown(page, sample.pids);
    console.log(`${label}: renderer RSS ${sample.last.toFixed(0)} MiB; Chromium's accounting (MiB):`);
    for (const [name, mib] of rows.slice(0, 60)) console.log(`  ${name.padEnd(60)} ${mib.toFixed(1)}`);
  };
  return { page, sample, video, dump, stop: async () => { clearInterval(timer); clearInterval(swGc); await page.close(); } };
}

async function seekAndPlay(v) {
  v.sample.phase = 'seek';
  await v.page.evaluate(() => {
    const el = document.querySelector('video') ?? document.querySelector('seedcast-player').shadowRoot.querySelector('video');
    el.currentTime = el.duration * 0.9;
  });
  await within(60_000, 'no playback after the seek', until(async () => {
    const s = await v.video();
    return s.time > s.duration * 0.9 + 2;
  }));
}

try {
  const seeder = await openPage(context, signal.base);
  const magnet = await within(300_000, 'seeding took too long', seeder.evaluate(async (url) => {
    const blob = await (await fetch(url)).blob();
    const client = await window.Seedcast.SeedcastClient.create();
    window.keep = client;
    return (await client.seed(new File([blob], 'big.mp4'))).magnetURI;
  }, `${httpBase}/video.mp4`));

  const started = performance.now();
  const play = process.env.MODE !== 'download';
  const s = await viewer(play ? `${viewerOrigin.base}/embed.html?muted&autoplay#${magnet}` : `${viewerOrigin.base}/example.html`, play);
  if (!play) {
    await s.page.evaluate(async ({ magnet, tracker }) => {
      const { SeedcastClient } = await import('/seedcast.js');
      const client = await SeedcastClient.create({ trackers: [tracker] });
      window.benchTorrent = client.add(magnet);
    }, { magnet, tracker: signal.tracker });
  }
  // Diagnostic: ALLOC_PROFILE=1 prints where the viewer page allocates JS memory while it
  // downloads (V8's sampling heap profiler, unreachable objects included).
  const profiler = process.env.ALLOC_PROFILE && await s.page.context().newCDPSession(s.page);
  if (profiler) {
    await profiler.send('HeapProfiler.enable');
    await profiler.send('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  const torrentStats = () => s.page.evaluate(() => (window.benchTorrent ?? document.querySelector('seedcast-player')?.torrent)?.stats());
  const done = async () => (await torrentStats())?.done;
  await within(900_000, 'the download did not finish', until(done, 1000));
  const downloadSeconds = (performance.now() - started) / 1000;
  if (profiler) {
    const { profile } = await profiler.send('HeapProfiler.stopSampling');
    const bySite = new Map();
    const walk = (node) => {
      const f = node.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
      for (const c of node.children) walk(c);
    };
    walk(profile.head);
    console.log('JS allocations in the viewer page during the download (MiB, sampled):');
    for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(bytes / 2 ** 20).toFixed(1).padStart(7)}  ${site}`);
    await profiler.detach();
  }
  const stats = await torrentStats();
  // Where the page's memory is: wasm linear memory (never shrinks) and the JS heap.
  const parts = await s.page.evaluate(async () => {
    const wasm = await (await import('/seedcast.js')).loadSeedcast();
    return { wasmMiB: wasm.memory.buffer.byteLength / 2 ** 20, jsHeapMiB: performance.memory.usedJSHeapSize / 2 ** 20, jsHeapTotalMiB: performance.memory.totalJSHeapSize / 2 ** 20 };
  });
  console.log(`seedcast viewer at the end of the download: wasm memory ${parts.wasmMiB.toFixed(0)} MiB, JS heap ${parts.jsHeapMiB.toFixed(0)} MiB used of ${parts.jsHeapTotalMiB.toFixed(0)} MiB`);
  await s.dump('seedcast viewer at the end of the download');
  if (play) await seekAndPlay(s);
  const pulled = await s.page.evaluate(() => globalThis.seedcastTrace
    .map((l) => l.split(' ')).filter((w) => w[2] === 'chunk' && Number(w[3])).reduce((sum, w) => sum + Number(w[3]), 0));
  if (play) console.log(`the player pulled ${(pulled / 2 ** 20).toFixed(0)} MiB through the service worker`);
  await s.stop();
  console.log(`seedcast: ${(SIZE / 2 ** 20).toFixed(0)} MiB streamed and stored in ${downloadSeconds.toFixed(0)} s (storage ${stats.storage}, ${(stats.cachedBytes / 2 ** 20).toFixed(0)} MiB cached at the end); viewer renderer RSS peak ${s.sample.peak.toFixed(0)} MiB, last ${s.sample.last.toFixed(0)} MiB`);

  httpServed = 0;
  const h = await viewer(`${httpBase}/http.html`);
  await new Promise((r) => setTimeout(r, Math.min(downloadSeconds, 90) * 1000));
  await h.dump('plain HTTP viewer before the seek');
  await seekAndPlay(h);
  await h.stop();
  console.log(`plain HTTP: the player pulled about ${(httpServed / 2 ** 20).toFixed(0)} MiB (read from disk for its responses)`);
  console.log(`plain HTTP: viewer renderer RSS peak ${h.sample.peak.toFixed(0)} MiB, last ${h.sample.last.toFixed(0)} MiB`);
  const phases = (v) => Object.entries(v.sample.peaks).map(([k, mib]) => `${k} ${mib.toFixed(0)}`).join(', ');
  console.log(`peaks by phase (MiB): seedcast ${phases(s)}; plain HTTP ${phases(h)}`);
  console.log(`\n| file | seedcast viewer (peak) | plain HTTP viewer (peak) | difference | target |`);
  console.log('| --- | --- | --- | --- | --- |');
  console.log(`| ${(SIZE / 2 ** 20).toFixed(0)} MiB MP4 | ${s.sample.peak.toFixed(0)} MiB | ${h.sample.peak.toFixed(0)} MiB | ${(s.sample.peak - h.sample.peak).toFixed(0)} MiB | ≤ 100 MiB |`);
} finally {
  await close();
  await signal.stop();
  await viewerOrigin.stop();
  http.close();
}
