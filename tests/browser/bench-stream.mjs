// Benchmark: streaming a 60 s 720p MP4 (faststart) into a <video>, side by side in one run:
//   seedcast   — a seedcast page seeds; the viewer opens embed.html#magnet (<seedcast-player>)
//   WebTorrent — a WebTorrent 3.0.21 page seeds; the viewer streams through WebTorrent's own
//                service-worker server (client.createServer({ controller }), sw.min.js at /)
//   HTTP       — the same file from a plain HTTP server with range support (the baseline)
// Each repetition opens the link in a fresh browser profile and measures: time from
// navigation to the first presented frame (requestVideoFrameCallback), time from setting
// currentTime to 75% to the first frame presented there, and the viewer renderer's peak RSS.
// Conditions: seeder/server unlimited, and limited to LIMIT bytes/s (so the seek target has
// not arrived yet when seeking). Prints medians and ratios.
//   node tests/browser/bench-stream.mjs          (REPS=5 LIMIT=2000000 by default)
// Needs www/pkg (scripts/build-wasm.sh), seedcast-signal, ffmpeg, and tests/node_modules.
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, startSignal, launchBrowserWithPid, newContext, openPage, within } from './harness.mjs';
import { renderers } from './proc.mjs';
import { serveFile } from './media-server.mjs';

const REPS = Number(process.env.REPS ?? 5);
const LIMIT = Number(process.env.LIMIT ?? 2_000_000);
const ONLY = process.env.BENCH_ONLY; // e.g. "seedcast" for tuning runs
const WT_DIST = resolve(ROOT, 'tests/node_modules/webtorrent/dist');

const dir = mkdtempSync(join(tmpdir(), 'seedcast-bench-stream-'));
const VIDEO = join(dir, 'bench-720p.mp4');
console.log('generating a 60 s 720p H.264/AAC MP4 with ffmpeg...');
execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i',
  'sine=frequency=440:sample_rate=48000', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
  '-g', '60', '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k', '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', VIDEO]);
const SIZE = statSync(VIDEO).size;
console.log(`video: ${(SIZE / 1e6).toFixed(1)} MB`);

// ---- a plain HTTP server: the baseline video, and WebTorrent's viewer page + worker at / ----

const WT_VIEWER = `<!doctype html><meta charset="utf-8"><title>WebTorrent viewer</title><body><script type="module">
import WebTorrent from '/webtorrent.min.js';
const [magnet, tracker] = JSON.parse(decodeURIComponent(location.hash.slice(1)));
// The worker registers while the torrent is found (as in seedcast's player).
const worker = (async () => {
  const registration = await navigator.serviceWorker.register('/sw.min.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  return registration;
})();
const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
const video = Object.assign(document.createElement('video'), { muted: true, autoplay: true, controls: true });
document.body.append(video);
client.add(magnet, { announce: [tracker] }, async (torrent) => {
  client.createServer({ controller: await worker });
  torrent.files.find((f) => f.name.endsWith('.mp4')).streamTo(video);
});
</script>`;
const HTTP_VIEWER = `<!doctype html><meta charset="utf-8"><title>HTTP viewer</title><body>
<video muted autoplay controls src="/video.mp4"></video>`;

function sendFile(req, res, limit) {
  serveFile(req, res, VIDEO, SIZE, 'video/mp4', limit);
}

function startHttp() {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const limited = new URL(req.url, 'http://x').searchParams.has('limited');
    if (path === '/video.mp4') return sendFile(req, res, limited ? LIMIT : 0);
    const pages = { '/wt.html': WT_VIEWER, '/http.html': HTTP_VIEWER.replace('/video.mp4', limited ? '/video.mp4?limited' : '/video.mp4') };
    if (pages[path]) { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(pages[path]); return; }
    const dist = { '/webtorrent.min.js': 'webtorrent.min.js', '/sw.min.js': 'sw.min.js' }[path];
    if (dist) { res.writeHead(200, { 'Content-Type': 'text/javascript' }); res.end(readFileSync(join(WT_DIST, dist))); return; }
    res.writeHead(404); res.end();
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, base: `http://127.0.0.1:${server.address().port}` })));
}

// ---- measuring in the viewer page ----

/** Installed in every viewer page: hooks the first <video> (also inside open shadow roots) and
 *  records the first presented frame, plus `window.benchSeek(fraction)`. */
function frameProbe() {
  window.bench = { firstFrame: null };
  window.seedcastTrace = [];
  const find = () => document.querySelector('video')
    ?? document.querySelector('seedcast-player')?.shadowRoot?.querySelector('video');
  const hook = () => {
    const video = find();
    if (!video) return requestAnimationFrame(hook);
    window.bench.video = video;
    video.requestVideoFrameCallback((now) => { window.bench.firstFrame = now; });
  };
  requestAnimationFrame(hook);
  window.benchSeek = (fraction) => new Promise((resolve) => {
    const video = window.bench.video;
    const target = video.duration * fraction;
    const start = performance.now();
    const onFrame = (now, meta) => {
      if (meta.mediaTime >= target - 0.5) resolve({ ms: now - start, target });
      else video.requestVideoFrameCallback(onFrame);
    };
    video.currentTime = target;
    video.requestVideoFrameCallback(onFrame);
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN; };

async function seedcastSeeder(browser, signal, limit) {
  const context = await newContext(browser);
  await context.route('**/bench-media/video.mp4', (route) => route.fulfill({ path: VIDEO }));
  const page = await openPage(context, signal.base);
  const magnet = await page.evaluate(async (limit) => {
    const client = await window.Seedcast.SeedcastClient.create(limit ? { uploadLimit: limit } : {});
    window.keep = client;
    const bytes = new Uint8Array(await (await fetch('/bench-media/video.mp4')).arrayBuffer());
    return (await client.seed(new File([bytes], 'bench-720p.mp4'))).magnetURI;
  }, limit);
  if (process.env.TRACE) {
    // Diagnostics: the seeder's upload progress every 50 ms (wall clock), printed around slow seeks.
    await page.evaluate(() => {
      window.upTrace = [];
      setInterval(() => {
        const t = window.keep.torrents[0];
        if (t && window.upTrace.length < 20_000) window.upTrace.push([Date.now(), t.stats().uploaded, t.stats().cachedBytes]);
      }, 50);
    });
  }
  return { magnet, page, close: () => context.close() };
}

async function webtorrentSeeder(browser, signal, limit) {
  const context = await newContext(browser);
  await context.route('**/bench-media/video.mp4', (route) => route.fulfill({ path: VIDEO }));
  const page = await openPage(context, signal.base);
  const magnet = await page.evaluate(async ({ tracker, limit }) => {
    const WebTorrent = (await import('/webtorrent.min.js')).default;
    const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, ...(limit ? { uploadLimit: limit } : {}) });
    window.keep = client;
    const bytes = new Uint8Array(await (await fetch('/bench-media/video.mp4')).arrayBuffer());
    const file = new File([bytes], 'bench-720p.mp4');
    return new Promise((res) => client.seed(file, { announce: [tracker] }, (t) => res(t.magnetURI)));
  }, { tracker: signal.tracker, limit });
  return { magnet, close: () => context.close() };
}

const IMPLS = [
  { name: 'seedcast', seeder: seedcastSeeder, url: (s, http, signal, limited) => `${signal.base}/embed.html?muted&autoplay#${s.magnet}` },
  { name: 'WebTorrent 3.0.21', seeder: webtorrentSeeder, url: (s, http, signal) => `${http.base}/wt.html#${encodeURIComponent(JSON.stringify([s.magnet, signal.tracker]))}` },
  { name: 'plain HTTP', seeder: null, url: (s, http, signal, limited) => `${http.base}/http.html${limited ? '?limited' : ''}` },
].filter((i) => !ONLY || i.name.startsWith(ONLY));

async function viewOnce(browser, pid, url, seederPage) {
  const before = new Set(renderers(pid).map((p) => p.pid));
  const context = await newContext(browser);
  await context.addInitScript(frameProbe);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let peakRss = 0;
  const sampler = setInterval(() => {
    for (const p of renderers(pid)) if (!before.has(p.pid)) peakRss = Math.max(peakRss, p.rssKiB);
  }, 100);
  try {
    await page.goto(url);
    const firstFrame = await within(60_000, `no first frame (${errors.join('; ')})`, page.waitForFunction(() => window.bench.firstFrame, null, { timeout: 0, polling: 20 }).then((h) => h.jsonValue()));
    const marks = await page.evaluate(() => performance.getEntriesByType('mark')
      .map((m) => `${m.name.replace('seedcast-player:', '')} ${m.startTime.toFixed(0)}`).join(', '));
    await page.waitForTimeout(1500); // play a little, as a viewer would before seeking
    const seekWall = Date.now();
    const seek = await within(60_000, 'no frame after the seek', page.evaluate(() => window.benchSeek(0.75)));
    if (process.env.TRACE && seek.ms > 400) {
      if (seederPage) {
        const up = await seederPage.evaluate((t) => window.upTrace.filter(([at]) => at > t - 300 && at < t + 3000)
          .map(([at, bytes, cached], i, all) => `${at - t} +${i ? ((bytes - all[i - 1][1]) / 1024).toFixed(0) : 0}K c${(cached / 2 ** 20).toFixed(1)}M`).join(' | '), seekWall);
        console.log(`seeder uploads around the seek (ms from the seek: KiB sent since the last sample, its cache): ${up}`);
      }
      console.log(await page.evaluate((t) => {
        let chunks = 0;
        const lines = window.seedcastTrace.filter((l) => {
          const at = Number(l.split(' ')[0]);
          if (at < t - 300) return false;
          return !l.includes(' chunk ') || chunks++ < 3;
        });
        return `seek at ${t.toFixed(0)}:\n    ${lines.join('\n    ')}`;
      }, await page.evaluate(() => performance.now()) - seek.ms));
    }
    await page.waitForTimeout(1500);
    return { firstFrame, seek: seek.ms, rssMiB: peakRss / 1024, marks };
  } finally {
    clearInterval(sampler);
    await context.close();
  }
}

const signal = await startSignal();
const http = await startHttp();
const { browser, pid, close } = await launchBrowserWithPid();
const rows = [];
try {
  for (const limited of [false, true]) {
    for (const impl of IMPLS) {
      const seeder = impl.seeder ? await impl.seeder(browser, signal, limited ? LIMIT : 0) : null;
      const runs = [];
      for (let rep = 0; rep < REPS; rep++) {
        const r = await viewOnce(browser, pid, impl.url(seeder, http, signal, limited), seeder?.page);
        runs.push(r);
        console.log(`  ${impl.name.padEnd(18)} ${limited ? `limited ${LIMIT / 1e6} MB/s` : 'unlimited'.padEnd(16)} rep ${rep + 1}: first frame ${r.firstFrame.toFixed(0)} ms, seek ${r.seek.toFixed(0)} ms, RSS ${r.rssMiB.toFixed(0)} MiB${r.marks ? ` (${r.marks})` : ''}`);
      }
      await seeder?.close();
      rows.push({ impl: impl.name, limited, firstFrame: median(runs.map((r) => r.firstFrame)), seek: median(runs.map((r) => r.seek)), rss: median(runs.map((r) => r.rssMiB)) });
    }
  }
} finally {
  await close();
  await signal.stop();
  http.server.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`\nmedians of ${REPS} runs, 60 s 720p MP4 (${(SIZE / 1e6).toFixed(1)} MB), loopback`);
console.log('| seeder upload | client | first frame | seek to 75% → frame | viewer renderer RSS (peak) |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.limited ? `${LIMIT / 1e6} MB/s` : 'unlimited'} | ${r.impl} | ${r.firstFrame.toFixed(0)} ms | ${r.seek.toFixed(0)} ms | ${r.rss.toFixed(0)} MiB |`);
}
for (const limited of [false, true]) {
  const s = rows.find((r) => r.impl === 'seedcast' && r.limited === limited);
  const w = rows.find((r) => r.impl.startsWith('WebTorrent') && r.limited === limited);
  if (s && w) {
    console.log(`seedcast/WebTorrent (${limited ? 'limited' : 'unlimited'}): first frame ×${(s.firstFrame / w.firstFrame).toFixed(2)}, seek ×${(s.seek / w.seek).toFixed(2)}, RSS ×${(s.rss / w.rss).toFixed(2)} (target ≤ ×0.5 for both times)`);
  }
}
