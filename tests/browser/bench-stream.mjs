// Benchmark: streaming a 60 s 720p MP4 (faststart) into a <video>, side by side in one run:
//   Seedcast   — a Seedcast page seeds; the viewer plays it with <seedcast-player> (embed.html)
//   WebTorrent — a WebTorrent 3.0.21 page seeds; the viewer streams through WebTorrent's own
//                service-worker server (client.createServer({ controller }), sw.min.js at /)
//   HTTP       — the same file from a plain HTTP server with range support (the baseline)
// Every view is a fresh browser profile, measured two ways:
//   cold — from the viewer's navigation to the first presented frame (requestVideoFrameCallback's
//          presentationTime: when the frame went to the compositor, which does not wait for a
//          main thread busy with the download): bundle or wasm load and service-worker registration included;
//   warm — the page loaded, the client made and the service worker controlling it first; from
//          the moment the link is handed over (player src / client.add / video.src) to the frame.
// Then, after 1.5 s of playback, from setting currentTime to 75% to the first frame there, and
// the viewer renderer's peak RSS. Conditions: seeder (or HTTP server) unlimited, limited to
// 2 MB/s and to 500 kB/s; both clients on their persistent default store and both in memory.
// Prints every view, medians, and Seedcast/WebTorrent ratios of the first-frame overhead over
// plain HTTP (first frame minus HTTP's) and of the seek time; with a limited seeder, also the
// seek's floor (the bytes the seek must fetch at the seeder's rate, see `seekBytes`).
// Seedcast's lines also show the player's steps from t0 (performance marks start, torrent,
// metadata, src). Diagnostics: TRACE=1 prints the player's stream events up to the first frame
// and around the seek;
// SIGNAL_INTERVAL sets the announce interval the tracker gives (5 s); TIMELINE=1 prints each cold
// page's loads (resource timing); PROFILE=1 samples the viewer's main thread from a warm view's
// t0 to its first frame (top functions by self time); CHROME_TRACE=path writes a Chromium trace
// of each view (navigation or t0 to first frame) to path-N.json; TRACE=1 also logs the media
// element's events (loadstart, loadedmetadata, ...); CONN=1 prints when the viewer's peer
// connections were made, got their first candidate and connected, and when the announce left
// and the answer came; SEEDER=1 prints the Seedcast seeder's peers before each view (viewers
// that left stay connected until their connection times out); CHANNELS=1 prints every data
// channel message the seeder's and the viewer's pages sent and received in a cold view's first
// 700 ms and around each seek (either client; CHROME_TRACE also traces the seek). SEEK_AFTER
// sets how long a view plays before its seek (ms, default 1500: with an unlimited seeder most
// views have the whole file by then, so only a shorter wait measures a seek into a download).
// AB=1 adds "Seedcast (B)": the player and seeder of a snapshot of another build, taken with
// scripts/ab-snapshot.sh into www/ab/ and served by the same server (the way to see a 30-50 ms
// change through this bench's noise: run e.g. CLIENTS=seedcast LIMITS=0 STORES=memory REPS=4 a
// few times, so the two builds' views alternate in blocks, and compare their medians).
//   node tests/browser/bench-stream.mjs    Env: REPS (3), LIMITS ("0,2000000,500000"),
//   STORES ("persistent,memory"), CLIENTS (e.g. "seedcast,plain").
// Needs www/pkg (scripts/build-wasm.sh), seedcast-signal, ffmpeg, and tests/node_modules.
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, startSignal, launchBrowserWithPid, newContext, openPage, within } from './harness.mjs';
import { renderers, sampleMainThread } from './proc.mjs';
import { serveFile } from './media-server.mjs';

const REPS = Number(process.env.REPS) || 3;
const LIMITS = (process.env.LIMITS ?? '0,2000000,500000').split(',').map(Number);
const STORES = (process.env.STORES ?? 'persistent,memory').split(',');
const WT_DIST = resolve(ROOT, 'tests/node_modules/webtorrent/dist');

const dir = mkdtempSync(join(tmpdir(), 'seedcast-bench-stream-'));
const VIDEO = join(dir, 'bench-720p.mp4');
console.log('generating a 60 s 720p H.264/AAC MP4 with ffmpeg...');
execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i',
  'sine=frequency=440:sample_rate=48000', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
  '-g', '60', '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k', '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', VIDEO]);
const SIZE = statSync(VIDEO).size;
console.log(`video: ${(SIZE / 1e6).toFixed(1)} MB`);
const SEEK_FRACTION = 0.75;
const SEEK_BYTES = seekBytes(VIDEO, SEEK_FRACTION);

/** The bytes a <video> in Chromium fetches to show the frame at `fraction` of the video after
 *  a seek: from the start of the 32 KiB block holding the keyframe at or before that time
 *  (decoding starts at the keyframe; Chromium's media cache asks by 32 KiB blocks: the seek's
 *  stream opened at 14745600 = 450 × 32 KiB in TRACE=1) to the end of the first video frame at
 *  or after it (no frame before the seek target is presented). A seeder limited to L bytes/s
 *  that is already sending at its limit cannot show that frame sooner than bytes / L: the
 *  floor a limited cell's seek is compared with. (Plain HTTP here paces each response on its
 *  own and sends its first 64 KiB at once, so its seek comes ~130 ms under the floor at
 *  500 kB/s.) */
function seekBytes(path, fraction) {
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries',
    'packet=pts_time,pos,size,flags:format=duration', '-of', 'json', path], { maxBuffer: 64 << 20 }).toString());
  const target = Number(probe.format.duration) * fraction;
  const packets = probe.packets.map((p) => ({ at: Number(p.pts_time), pos: Number(p.pos), size: Number(p.size), key: p.flags.startsWith('K') }))
    .sort((a, b) => a.at - b.at);
  const key = packets.filter((p) => p.key && p.at <= target).at(-1);
  const frame = packets.find((p) => p.at >= target);
  const BLOCK = 32 * 1024;
  return frame.pos + frame.size - Math.floor(key.pos / BLOCK) * BLOCK;
}

// ---- a plain HTTP server: the baseline video, and WebTorrent's viewer page + worker at / ----

// `?m=magnet&t=tracker&memory&warm`: warm waits for `window.startStream()` to add the torrent.
const WT_VIEWER = `<!doctype html><meta charset="utf-8"><title>WebTorrent viewer</title><body><script type="module">
import WebTorrent from '/webtorrent.min.js';
const q = new URLSearchParams(location.search);
// The worker registers while the torrent is found (as in Seedcast's player).
const worker = (async () => {
  const registration = await navigator.serviceWorker.register('/sw.min.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  return registration;
})();
const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
const video = Object.assign(document.createElement('video'), { muted: true, autoplay: true, controls: true });
document.body.append(video);
const MemoryStore = window.testUtils.MemoryStore; // tests/browser/harness.mjs
const start = () => client.add(q.get('m'), { announce: [q.get('t')], ...(q.has('memory') ? { store: MemoryStore } : {}) }, async (torrent) => {
  client.createServer({ controller: await worker });
  torrent.files.find((f) => f.name.endsWith('.mp4')).streamTo(video);
});
if (q.has('warm')) {
  await worker;
  window.startStream = () => { const t0 = performance.now(); start(); return t0; };
} else start();
</script>`;
// `?limited=N` serves the video at N bytes/s; `?warm` waits for `window.startStream()`.
const HTTP_VIEWER = `<!doctype html><meta charset="utf-8"><title>HTTP viewer</title><body>
<video muted autoplay controls></video><script type="module">
const q = new URLSearchParams(location.search);
const src = q.has('limited') ? '/video.mp4?limited=' + q.get('limited') : '/video.mp4';
const video = document.querySelector('video');
if (q.has('warm')) window.startStream = () => { const t0 = performance.now(); video.src = src; return t0; };
else video.src = src;
</script>`;

function startHttp() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/video.mp4') return serveFile(req, res, VIDEO, SIZE, 'video/mp4', Number(url.searchParams.get('limited')) || 0);
    const pages = { '/wt.html': WT_VIEWER, '/http.html': HTTP_VIEWER };
    if (pages[url.pathname]) { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(pages[url.pathname]); return; }
    const dist = { '/webtorrent.min.js': 'webtorrent.min.js', '/sw.min.js': 'sw.min.js' }[url.pathname];
    if (dist) { res.writeHead(200, { 'Content-Type': 'text/javascript' }); res.end(readFileSync(join(WT_DIST, dist))); return; }
    res.writeHead(404); res.end();
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, base: `http://127.0.0.1:${server.address().port}` })));
}

// ---- measuring in the viewer page ----

/** Installed in every viewer page: hooks the <video> (also inside the player's open shadow root)
 *  and records its first presented frame; `bench.rearm()` hooks the current one again (the warm
 *  view: the player makes a new <video> per link); `window.benchSeek(fraction)`. */
function frameProbe() {
  let generation = 0;
  // When the frame went to the compositor (what the viewer sees), not when the callback ran:
  // the callback waits for the page's main thread, which a download at full speed keeps busy.
  const shown = (now, meta) => meta?.presentationTime ?? now;
  window.bench = { firstFrame: null };
  if (window.benchTrace) {
    window.seedcastTrace = []; // stream-host.js logs stream opens, chunks, closes
    // Main-thread tasks of 50 ms or more (what delays the service worker's messages).
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.seedcastTrace.push(`${e.startTime.toFixed(0)} longtask ${e.duration.toFixed(0)}ms`);
    }).observe({ type: 'longtask', buffered: true });
  }
  const find = () => document.querySelector('video')
    ?? document.querySelector('seedcast-player')?.shadowRoot?.querySelector('video');
  const hook = (mine) => {
    if (mine !== generation) return;
    const video = find();
    if (!video) return requestAnimationFrame(() => hook(mine));
    window.bench.video = video;
    if (window.benchTrace) {
      // The media element's own steps (metadata parsed, first data, buffered end in seconds).
      for (const type of ['loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'playing', 'progress', 'waiting']) {
        video.addEventListener(type, () => {
          if (mine !== generation) return;
          const end = video.buffered.length ? video.buffered.end(video.buffered.length - 1).toFixed(2) : '-';
          window.seedcastTrace.push(`${performance.now().toFixed(0)} video ${type} buffered ${end}`);
        });
      }
    }
    video.requestVideoFrameCallback((now, meta) => { if (mine === generation) window.bench.firstFrame ??= shown(now, meta); });
  };
  window.bench.rearm = () => { generation++; window.bench.firstFrame = null; hook(generation); };
  requestAnimationFrame(() => hook(generation));
  window.benchSeek = (fraction) => new Promise((resolve) => {
    const video = window.bench.video;
    const target = video.duration * fraction;
    const start = performance.now();
    window.bench.seekStart = start;
    const onFrame = (now, meta) => {
      if (meta.mediaTime >= target - 0.5) resolve(shown(now, meta) - start);
      else video.requestVideoFrameCallback(onFrame);
    };
    video.currentTime = target;
    video.requestVideoFrameCallback(onFrame);
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN; };

/** A seeder page of `impl` in its own profile; resolves with the magnet link and `close()`. */
async function startSeeder(impl, browser, signal, limit, store) {
  const context = await newContext(browser);
  await context.route('**/bench-media/video.mp4', (route) => route.fulfill({ path: VIDEO }));
  if (process.env.CHANNELS) await context.addInitScript(channelProbe);
  // AB=1's snapshot seeds with its own build too (`impl.dir`).
  const page = await openPage(context, signal.base, impl.dir ?? '');
  const magnet = await page.evaluate(async ({ impl, tracker, limit, memory }) => {
    const bytes = new Uint8Array(await (await fetch('/bench-media/video.mp4')).arrayBuffer());
    const file = new File([bytes], 'bench-720p.mp4');
    const upload = limit ? { uploadLimit: limit } : {};
    if (impl === 'seedcast') {
      const client = await window.Seedcast.SeedcastClient.create({ ...upload, ...(memory ? { storage: 'memory' } : {}) });
      window.keep = client;
      return (await client.seed(file)).magnetURI;
    }
    const WebTorrent = (await import('/webtorrent.min.js')).default;
    const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, ...upload });
    window.keep = client;
    const store = memory ? { store: window.testUtils.MemoryStore } : {};
    return new Promise((res) => client.seed(file, { announce: [tracker], ...store }, (t) => res(t.magnetURI)));
  }, { impl: impl.name.startsWith('Seedcast') ? 'seedcast' : 'webtorrent', tracker: signal.tracker, limit, memory: store === 'memory' });
  return { magnet, page, close: () => context.close() };
}

/** Diagnostics (SEEDER=1): a Seedcast seeder's peers and what it sent each, in kB. */
function seederPeers(page) {
  return page.evaluate(() => {
    const torrent = window.keep.torrents[0];
    const peers = torrent.peers().map((p) => (p.uploaded / 1e3).toFixed(0));
    return `${peers.length} peers, sent ${peers.join(' / ') || '-'} kB, ${(torrent.stats().uploadSpeed / 1e3).toFixed(0)} kB/s`;
  });
}

const IMPLS = [
  ...[['Seedcast', ''], ...(process.env.AB ? [['Seedcast (B)', 'ab/']] : [])].map(([name, dir]) => ({
    name,
    dir, // where its pages are served: the build under test, or AB=1's snapshot in www/ab/
    url: ({ magnet, signal, store, warm }) => `${signal.base}/${dir}embed.html?muted&autoplay${store === 'memory' ? '&storage=memory' : ''}${warm ? '' : `#${magnet}`}`,
    // Warm: the service worker controls the page and the player's shared client exists
    // (`SeedcastPlayer.prepare`, with the storage the player names); the link is then
    // handed to the player.
    warmUp: (page, magnet) => page.waitForFunction(() => document.querySelector('seedcast-player')
      && customElements.get('seedcast-player'), null, { timeout: 30_000 }).then(() => page.evaluate(async (magnet) => {
      const player = document.querySelector('seedcast-player');
      await customElements.get('seedcast-player').prepare({ storage: player.getAttribute('storage') });
      window.startStream = () => { const t0 = performance.now(); player.setAttribute('src', magnet); return t0; };
    }, magnet)),
  })),
  {
    name: 'WebTorrent 3.0.21',
    url: ({ magnet, signal, http, store, warm }) => `${http.base}/wt.html?${new URLSearchParams({ m: magnet, t: signal.tracker })}${store === 'memory' ? '&memory' : ''}${warm ? '&warm' : ''}`,
    warmUp: (page) => page.waitForFunction(() => window.startStream, null, { timeout: 30_000 }),
  },
  {
    name: 'plain HTTP',
    http: true,
    url: ({ http, limit, warm }) => `${http.base}/http.html?${limit ? `limited=${limit}` : ''}${warm ? '&warm' : ''}`,
    warmUp: (page) => page.waitForFunction(() => window.startStream, null, { timeout: 30_000 }),
  },
].filter((i) => !process.env.CLIENTS || process.env.CLIENTS.split(',').some((c) => i.name.toLowerCase().startsWith(c)));

let traces = 0; // CHROME_TRACE files written so far

/** CHANNELS=1 (diagnostics), installed in the seeder's and the viewer's pages: every data
 *  channel message sent (with the channel's bufferedAmount before it) and received, on the
 *  wall clock both pages share (Date.now()), printed around each seek by `channelLog`. */
function channelProbe() {
  const log = [];
  window.channelLog = log;
  const watch = (ch) => ch.addEventListener('message', (e) => log.push([Date.now(), 'in', e.data.byteLength ?? e.data.length, 0]));
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (d) { log.push([Date.now(), 'out', d.byteLength ?? d.size ?? d.length, this.bufferedAmount]); return send.call(this, d); };
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...a) { const ch = create.apply(this, a); watch(ch); return ch; };
  const Pc = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) { const pc = new Pc(...a); pc.addEventListener('datachannel', (e) => watch(e.channel)); return pc; };
  window.RTCPeerConnection.prototype = Pc.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Pc);
}

/** One page's CHANNELS=1 log from `before` ms before to `after` ms after `at` (ms since the
 *  epoch): `ms>KiB/queued KiB` for a send, `ms<KiB` for a receipt (fractions of a KiB as 0). */
async function channelLog(page, at, before = 60, after = 400) {
  const log = await page.evaluate(() => window.channelLog ?? []);
  return log.filter(([t]) => t >= at - before && t < at + after).map(([t, dir, n, queued]) => `${t - at}${dir === 'in' ? '<' : '>'}`
    + `${(n / 1024).toFixed(0)}${dir === 'out' && queued ? `/${(queued / 1024).toFixed(0)}` : ''}`).join(' ');
}

/** CONN=1 (diagnostics), installed in the viewer's page: when each peer connection was made,
 *  got its first candidate and connected, and when tracker messages went and came (the
 *  announce, the answer), to see where a view's connection time goes. Read by
 *  `connectionSteps(t0)` in the page. Top-level frame only (WebTorrent's and HTTP's pages
 *  have none of Seedcast's; Seedcast's player runs in the page itself). */
function connectionProbe() {
  const log = [];
  const at = () => performance.now();
  const Pc = window.RTCPeerConnection;
  if (Pc) {
    let n = 0;
    window.RTCPeerConnection = function (...args) {
      const id = ++n;
      const pc = new Pc(...args);
      log.push([at(), `pc${id} made`]);
      let first = true;
      pc.addEventListener('icecandidate', (e) => { if (e.candidate && first) { first = false; log.push([at(), `pc${id} candidate`]); } });
      pc.addEventListener('connectionstatechange', () => { if (pc.connectionState === 'connected') log.push([at(), `pc${id} connected`]); });
      pc.addEventListener('datachannel', () => log.push([at(), `pc${id} channel (answerer)`]));
      return pc;
    };
    window.RTCPeerConnection.prototype = Pc.prototype;
    Object.setPrototypeOf(window.RTCPeerConnection, Pc);
  }
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === 'string') log.push([at(), `ws sent ${/"offers"/.test(data) ? 'announce with offers' : /"answer"/.test(data) ? 'answer' : 'message'}`]);
    return send.call(this, data);
  };
  const Ws = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Ws(...args);
    log.push([at(), 'ws made']);
    ws.addEventListener('open', () => log.push([at(), 'ws open']));
    ws.addEventListener('message', (e) => { if (typeof e.data === 'string' && /"answer"/.test(e.data)) log.push([at(), 'ws got answer']); });
    return ws;
  };
  window.WebSocket.prototype = Ws.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.connectionSteps = (t0) => log.filter(([t]) => t >= t0).map(([t, what]) => `${(t - t0).toFixed(0)} ${what}`).join(' | ');
}

/** One view in a fresh profile: the first frame (cold or warm), then a seek; ms and MiB. */
async function viewOnce(browser, pid, impl, where, warm) {
  const before = new Set(renderers(pid).map((p) => p.pid));
  const context = await newContext(browser);
  if (process.env.TRACE) await context.addInitScript(() => { window.benchTrace = true; });
  if (process.env.CONN) await context.addInitScript(connectionProbe);
  if (process.env.CHANNELS) await context.addInitScript(channelProbe);
  await context.addInitScript(frameProbe);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let peakRss = 0;
  const sampler = setInterval(() => {
    for (const p of renderers(pid)) if (!before.has(p.pid)) peakRss = Math.max(peakRss, p.rssKiB);
  }, 100);
  try {
    // CHROME_TRACE=path (diagnostics): a Chromium trace of each view, from its t0 (the
    // navigation, or the link handed over) to the first frame, written to path-N.json.
    const startTrace = () => browser.startTracing(page, { path: `${process.env.CHROME_TRACE}-${++traces}.json`,
      categories: ['toplevel', 'devtools.timeline', 'blink', 'cc', 'v8.wasm', 'v8', 'media', 'blink.user_timing', 'loading'] });
    if (process.env.CHROME_TRACE && !warm) await startTrace();
    await page.goto(impl.url({ ...where, warm }));
    let t0 = 0;
    let stopProfile;
    if (warm) {
      await within(30_000, `${impl.name}: the page did not get ready (${errors.join('; ')})`, impl.warmUp(page, where.magnet));
      if (process.env.PROFILE) stopProfile = await sampleMainThread(context, page, { intervalUs: 200, top: 12 });
      if (process.env.CHROME_TRACE) await startTrace();
      t0 = await page.evaluate(() => { const t0 = window.startStream(); window.bench.rearm(); return t0; });
    }
    const frameAt = await within(90_000, `no first frame (${errors.join('; ')})`, page.waitForFunction(() => window.bench.firstFrame, null, { timeout: 0, polling: 20 }).then((h) => h.jsonValue()));
    if (stopProfile) console.log(await stopProfile());
    if (process.env.CHANNELS && where.seederPage && !warm) {
      // A cold view's first 700 ms, from its navigation: the handshakes, the metadata, the first blocks.
      const navigation = await page.evaluate(() => performance.timeOrigin);
      console.log(`    seeder's channels after the navigation (ms from it): ${await channelLog(where.seederPage, navigation, 0, 700)}`);
      console.log(`    viewer's channels after the navigation: ${await channelLog(page, navigation, 0, 700)}`);
    }
    if (process.env.CHROME_TRACE) await browser.stopTracing();
    // The player's own steps (performance marks seedcast-player:start|torrent|metadata|src), from t0.
    const marks = await page.evaluate((t0) => performance.getEntriesByType('mark').filter((m) => m.startTime >= t0)
      .map((m) => `${m.name.replace(/^seedcast(-player)?:/, '')} ${(m.startTime - t0).toFixed(0)}`).join(', '), t0);
    if (process.env.TIMELINE && !warm) {
      // Diagnostics: the cold page's loads (start–end, ms from navigation) and when it became interactive.
      console.log(await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return `    page: html ${nav.responseEnd.toFixed(0)}, interactive ${nav.domInteractive.toFixed(0)}; `
          + performance.getEntriesByType('resource').map((r) => `${r.name.replace(location.origin + '/', '').slice(0, 40)} `
            + `${r.startTime.toFixed(0)}–${r.responseEnd.toFixed(0)}`).join(', ');
      }));
    }
    // Play a little, as a viewer would before seeking (SEEK_AFTER ms, default 1500: with an
    // unlimited seeder most views have the whole file by then; a shorter wait seeks into a download).
    await page.waitForTimeout(Number(process.env.SEEK_AFTER ?? 1500));
    if (process.env.CHROME_TRACE) await startTrace(); // and of the seek
    const seekEpoch = Date.now();
    const seek = await within(90_000, 'no frame after the seek', page.evaluate((f) => window.benchSeek(f), SEEK_FRACTION));
    if (process.env.CHROME_TRACE) await browser.stopTracing();
    if (process.env.CHANNELS && where.seederPage) {
      console.log(`    seeder's channels around the seek (ms from it): ${await channelLog(where.seederPage, seekEpoch)}`);
      console.log(`    viewer's channels around the seek: ${await channelLog(page, seekEpoch)}`);
    }
    if (process.env.TRACE) {
      // Diagnostics: the player's stream events up to the first frame, from t0.
      console.log(await page.evaluate(({ t0, frameAt }) => `    frame at ${(frameAt - t0).toFixed(0)}: ` + (window.seedcastTrace ?? [])
        .map((l) => [Number(l.split(' ')[0]) - t0, l.split(' ').slice(1).join(' ')])
        .filter(([at]) => at >= 0 && at <= frameAt - t0 + 50).slice(0, 40)
        .map(([at, what]) => `${at.toFixed(0)} ${what}`).join(' | '), { t0, frameAt }));
    }
    if (process.env.TRACE) {
      // The same around the seek, from the moment `currentTime` was set.
      console.log(await page.evaluate((seek) => {
        const s0 = window.bench.seekStart;
        return `    seek frame at ${seek.toFixed(0)}: ` + (window.seedcastTrace ?? [])
          .map((l) => [Number(l.split(' ')[0]) - s0, l.split(' ').slice(1).join(' ')])
          .filter(([at]) => at >= -100 && at <= seek + 50).slice(0, 60)
          .map(([at, what]) => `${at.toFixed(0)} ${what}`).join(' | ');
      }, seek));
    }
    if (process.env.CONN) console.log(`    connection (ms from t0): ${await page.evaluate((t0) => connectionSteps(t0), t0).catch((e) => e.message)}`);
    return { firstFrame: frameAt - t0, seek, rssMiB: peakRss / 1024, marks };
  } finally {
    clearInterval(sampler);
    await context.close();
  }
}

// The announce interval the tracker tells clients (SIGNAL_INTERVAL, seconds; diagnostics).
const signal = await startSignal({ intervalSecs: Number(process.env.SIGNAL_INTERVAL) || 5 });
if (process.env.AB) {
  if (!existsSync(resolve(ROOT, 'www/ab/embed.html'))) throw new Error('AB=1 compares with a snapshot in www/ab/: run scripts/ab-snapshot.sh on the other build first');
  writeFileSync(resolve(ROOT, 'www/ab/chain.json'), await (await fetch(`${signal.base}/chain.json`)).text());
}
const http = await startHttp();
const { browser, pid, close } = await launchBrowserWithPid();
const rows = []; // { impl, limit, store, cold: [], warm: [], seek: [], rss: [] }
const limitLabel = (limit) => (limit ? `${limit / 1e6} MB/s` : 'unlimited');
try {
  for (const limit of LIMITS) {
    for (const store of STORES) {
      for (const impl of IMPLS) {
        if (impl.http && store !== STORES[0]) continue; // HTTP has no store: once per limit
        const seeder = impl.http ? null : await startSeeder(impl, browser, signal, limit, store);
        const row = { impl: impl.name, limit, store: impl.http ? '-' : store, cold: [], warm: [], seek: [], rss: [] };
        try {
          for (let rep = 1; rep <= REPS; rep++) {
            for (const warm of [false, true]) {
              try {
                if (process.env.SEEDER && seeder && impl.name === 'Seedcast') console.log(`    seeder before the view: ${await seederPeers(seeder.page)}`);
                const r = await viewOnce(browser, pid, impl, { magnet: seeder?.magnet, seederPage: seeder?.page, signal, http, store, limit }, warm);
                row[warm ? 'warm' : 'cold'].push(r.firstFrame);
                row.seek.push(r.seek);
                row.rss.push(r.rssMiB);
                console.log(`  ${impl.name.padEnd(18)} ${limitLabel(limit).padEnd(10)} ${row.store.padEnd(10)} rep ${rep} ${warm ? 'warm' : 'cold'}: `
                  + `first frame ${r.firstFrame.toFixed(0)} ms, seek ${r.seek.toFixed(0)} ms, RSS ${r.rssMiB.toFixed(0)} MiB${r.marks ? ` (${r.marks})` : ''}`);
              } catch (e) {
                console.log(`  ${impl.name.padEnd(18)} ${limitLabel(limit).padEnd(10)} ${row.store.padEnd(10)} rep ${rep} ${warm ? 'warm' : 'cold'}: failed: ${e.message}`);
              }
            }
          }
        } finally {
          await seeder?.close();
        }
        rows.push(row);
      }
    }
  }
} finally {
  await close();
  await signal.stop();
  http.server.close();
  rmSync(dir, { recursive: true, force: true });
}

const ms = (xs) => (xs.length ? `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})` : '-');
console.log(`\nmedians (min–max) of ${REPS} views each, 60 s 720p MP4 (${(SIZE / 1e6).toFixed(1)} MB), loopback; ms`);
console.log('| seeder upload | store | client | first frame, cold | first frame, warm | seek to 75% → frame | viewer RSS MiB |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${limitLabel(r.limit)} | ${r.store} | ${r.impl} | ${ms(r.cold)} | ${ms(r.warm)} | ${ms(r.seek)} | ${r.rss.length ? median(r.rss).toFixed(0) : '-'} |`);
}
if (process.env.AB) {
  console.log('\nSeedcast (this build) / Seedcast (B, the snapshot in www/ab/): medians, ms');
  for (const a of rows.filter((r) => r.impl === 'Seedcast')) {
    const b = rows.find((r) => r.impl === 'Seedcast (B)' && r.limit === a.limit && r.store === a.store);
    if (!b) continue;
    const pair = (k) => `${median(a[k]).toFixed(0)} vs ${median(b[k]).toFixed(0)}`;
    console.log(`  ${limitLabel(a.limit).padEnd(10)} ${a.store.padEnd(10)} cold ${pair('cold')}; warm ${pair('warm')}; seek ${pair('seek')}`);
  }
}
console.log('\nSeedcast / WebTorrent: first-frame overhead over plain HTTP (median minus HTTP\'s median; target ≤ ×0.6), seek (target ≤ ×0.5), RSS');
for (const limit of LIMITS) {
  const httpRow = rows.find((r) => r.impl === 'plain HTTP' && r.limit === limit);
  for (const store of STORES) {
    const s = rows.find((r) => r.impl === 'Seedcast' && r.limit === limit && r.store === store);
    const w = rows.find((r) => r.impl.startsWith('WebTorrent') && r.limit === limit && r.store === store);
    if (!s || !w || !httpRow) continue;
    const over = (k) => {
      const a = median(s[k]) - median(httpRow[k]), b = median(w[k]) - median(httpRow[k]);
      return `${a.toFixed(0)} vs ${b.toFixed(0)} ms = ×${(a / b).toFixed(2)}`;
    };
    console.log(`  ${limitLabel(limit).padEnd(10)} ${store.padEnd(10)} cold ${over('cold')}; warm ${over('warm')}; seek ×${(median(s.seek) / median(w.seek)).toFixed(2)}; RSS ×${(median(s.rss) / median(w.rss)).toFixed(2)}`);
    if (limit) {
      // Whether the seek target (≤ ×0.5 of WebTorrent's) is physically reachable at this rate.
      const floor = (SEEK_BYTES / limit) * 1000, wanted = median(w.seek) * 0.5;
      console.log(`  ${''.padEnd(21)} seek floor ${floor.toFixed(0)} ms (${(SEEK_BYTES / 1e3).toFixed(0)} kB from the keyframe's 32 KiB block before `
        + `${SEEK_FRACTION * 100}% to the frame there, at ${limitLabel(limit)}); ×0.5 of WebTorrent's seek is ${wanted.toFixed(0)} ms`
        + `${wanted < floor ? ': below the floor, out of reach for a seeder that keeps its limit' : ''}; Seedcast ${(median(s.seek) / floor).toFixed(2)}× the floor`);
    }
  }
}
