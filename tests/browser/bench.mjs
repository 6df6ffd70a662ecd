// Transfer benchmark: one file from one page to another (two origins of one headless Chromium
// with a real on-disk profile), Seedcast vs WebTorrent 3.0.21 side by side, with the raw
// RTCDataChannel between the same two kinds of page as the floor, all in the same run.
//
// Fairness (as ../shared/notes/benchmarks.md asks):
// - both clients run in the same scenarios: their persistent default store (Seedcast: OPFS;
//   WebTorrent: its browser default) and both in memory (Seedcast `storage: 'memory'`,
//   WebTorrent an in-page memory chunk store); seeder unlimited, and upload-limited by each
//   client's own `uploadLimit` (2 MB/s and 500 kB/s by default);
// - both clocks are read the same way for both: "cold" from the downloader page's navigation
//   (module/bundle and wasm load, client set-up included) and "warm" from the `add()` call,
//   both up to the `done` event, on one machine clock (Date.now in Node and in the page);
// - every run gets a fresh browser and profile; the clients alternate within a repetition;
// - CPU is the whole browser process tree's (both pages) from `add()` to `done`, per MiB;
//   RSS is the downloader renderer's peak.
// Prints every run, then per scenario the ranges and the Seedcast/WebTorrent ratios of the
// runs of each repetition (paired: the machine's speed can drift between repetitions). Usage: node tests/browser/bench.mjs. Env: REPS (2), MIB (64, unlimited scenarios),
// RATES ("0,2000000,500000" bytes/s), STORES ("memory,persistent"), CLIENTS (e.g. "seedcast"),
// BREAKDOWN=1 (CPU by process), PROFILE=1 (both main threads sampled: top functions by self time).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startSignal, launchPersistentWithPid, within } from './harness.mjs';
import { tree, cpuMs, cpuByProcess, cpuByRole, sampleMainThread } from './proc.mjs';

const REPS = Number(process.env.REPS) || 2;
const MIB = Number(process.env.MIB) || 64;
const RATES = (process.env.RATES ?? '0,2000000,500000').split(',').map(Number);
const STORES = (process.env.STORES ?? 'memory,persistent').split(',');
// A limited seeder's file is sized to take ~8 s at its limit: long enough to reach steady
// state, short enough for several scenarios in one run.
const sizeFor = (rate) => (rate ? Math.max(1, Math.round((rate * 8.4) / 2 ** 20)) : MIB) * 2 ** 20;
// WebTorrent's block size; Seedcast's largest message (a channel holds at most 128 KiB queued,
// `session::core::HIGH_WATER`); the 256 KiB it sent before 2026-12-05's evening.
const RAW_MESSAGES = [16 * 1024, 128 * 1024, 256 * 1024];
const SEEDCAST_MESSAGE = 128 * 1024;

/** The page both clients start from (nothing loaded); the clients load their own code into it.
 *  It is served by seedcast-signal (a copy of www/ with this page added): a page fulfilled by
 *  the test instead would count as a public address, and Chromium's local-network checks
 *  would then block its connections to the loopback tracker. */
const BLANK = '<!doctype html><meta charset="utf-8"><title>bench</title><body>';
const WWW = mkdtempSync(join(tmpdir(), 'seedcast-bench-www-'));
cpSync(join(ROOT, 'www'), WWW, { recursive: true });
writeFileSync(join(WWW, 'bench-blank.html'), BLANK);

const seedcast = {
  name: 'Seedcast',
  load: (page) => page.evaluate(async () => {
    window.Seedcast = await import('/seedcast.js');
    await window.Seedcast.loadSeedcast();
  }),
  seed: (page, { tracker, size, rate, store }) => page.evaluate(async ({ tracker, size, rate, storage }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage, ...(rate ? { uploadLimit: rate } : {}) });
    const torrent = await client.seed(new File([window.testUtils.makeContent(size)], 'bench.bin'));
    window.bench = { client, torrent };
    window.gc?.(); // the generated content is garbage now: page memory is the client's own
    return torrent.magnetURI;
  }, { tracker, size, rate, storage: store === 'memory' ? 'memory' : 'auto' }),
  create: (page, { tracker, store }) => page.evaluate(async ({ tracker, storage }) => {
    window.bench = { client: await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage }) };
  }, { tracker, storage: store === 'memory' ? 'memory' : 'auto' }),
  add: (page, { magnet }) => page.evaluate((magnet) => new Promise((resolve, reject) => {
    const addAt = Date.now();
    const torrent = window.bench.client.add(magnet);
    torrent.addEventListener('done', () => resolve({ addAt, doneAt: Date.now(), bytes: torrent.stats().verified }));
    torrent.addEventListener('error', (e) => reject(new Error(e.detail?.message ?? 'torrent error')));
  }), magnet),
};

/** WebTorrent's module; its memory store is the harness's in-page chunk store. */
const loadWebTorrent = (page) => page.evaluate(async () => {
  window.WebTorrent = (await import('/webtorrent.min.js')).default;
  window.MemoryStore = window.testUtils.MemoryStore;
});

const webtorrent = {
  name: 'WebTorrent 3.0.21',
  load: loadWebTorrent,
  seed: (page, { tracker, size, rate, store }) => page.evaluate(async ({ tracker, size, rate, memory }) => {
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, ...(rate ? { uploadLimit: rate } : {}) });
    const file = new File([window.testUtils.makeContent(size)], 'bench.bin');
    const torrent = await new Promise((res, rej) => {
      client.seed(file, { announce: [tracker], ...(memory ? { store: window.MemoryStore } : {}) }, res);
      client.on('error', rej);
    });
    window.bench = { client, torrent };
    window.gc?.();
    return torrent.magnetURI;
  }, { tracker, size, rate, memory: store === 'memory' }),
  create: (page) => page.evaluate(() => {
    window.bench = { client: new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } }) };
  }),
  add: (page, { magnet, tracker, store }) => page.evaluate(({ magnet, tracker, memory }) => new Promise((resolve, reject) => {
    const addAt = Date.now();
    const torrent = window.bench.client.add(magnet, { announce: [tracker], ...(memory ? { store: window.MemoryStore } : {}) });
    torrent.on('done', () => resolve({ addAt, doneAt: Date.now(), bytes: torrent.downloaded }));
    torrent.on('error', (e) => reject(new Error(String(e?.message ?? e))));
  }), { magnet, tracker, memory: store === 'memory' }),
};

/** A fresh browser with an on-disk profile; `blank(base)` opens the empty page on an origin. */
async function freshBrowser() {
  const browser = await launchPersistentWithPid();
  const open = async (base) => {
    const page = await browser.context.newPage();
    await page.goto(`${base}/bench-blank.html`);
    return page;
  };
  return { ...browser, open };
}

// BREAKDOWN=1: also print each run's CPU per MiB by process (which renderer, the browser process,
// the network service, the GPU process...), to see where a client's cost over the raw channel sits.
const BREAKDOWN = process.env.BREAKDOWN === '1';

/** `after - before` of two `cpuByProcess` readings, per MiB, by role: renderers are the seeder's
 *  (`seederPids`) or the downloader's; other processes go by their kind. */
function breakdown(before, after, mib, seederPids) {
  return cpuByRole(before, after, (pid) => (seederPids.has(pid) ? 'seeder' : 'downloader'))
    .map(([k, ms]) => [k, ms / mib]).filter(([, v]) => v >= 0.5)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
}

// PROFILE=1: also sample both pages' main threads (V8's CPU profiler, wasm functions by name)
// during the transfer, and print each page's top functions by self time.
const PROFILE = process.env.PROFILE === '1';

/** Samples the peak RSS of the renderers that are not in `exclude` (the downloader's). */
function rssSampler(pid, exclude) {
  let peak = 0;
  const timer = setInterval(() => {
    for (const p of tree(pid)) if (p.renderer && !exclude.has(p.pid)) peak = Math.max(peak, p.rssKiB);
  }, 200);
  return () => { clearInterval(timer); return peak / 1024; };
}

async function runClient(impl, scenario, signal, otherOrigin) {
  const { size, rate, store } = scenario;
  const browser = await freshBrowser();
  try {
    // The seeder: its own origin, loaded and hashed before any clock starts.
    const seeder = await browser.open(signal.base);
    await impl.load(seeder);
    const magnet = await within(300_000, `${impl.name}: seeding did not start`, impl.seed(seeder, { tracker: signal.tracker, size, rate, store }));
    const seederRenderers = new Set(tree(browser.pid).filter((p) => p.renderer).map((p) => p.pid));
    const stopRss = rssSampler(browser.pid, seederRenderers);
    // The downloader: a new tab navigates to the other origin's empty page (cold clock starts).
    const leecher = await browser.context.newPage();
    const navAt = Date.now();
    await leecher.goto(`${otherOrigin.base}/bench-blank.html`);
    await impl.load(leecher);
    await impl.create(leecher, { tracker: signal.tracker, store });
    const cpuBefore = cpuMs(browser.pid);
    const byProcessBefore = cpuByProcess(browser.pid);
    const limitMs = Math.max(120_000, (rate ? size / rate : 10) * 10_000);
    const profiles = PROFILE ? [await sampleMainThread(browser.context, seeder), await sampleMainThread(browser.context, leecher)] : [];
    const r = await within(limitMs, `${impl.name} did not finish ${size / 2 ** 20} MiB`, impl.add(leecher, { magnet, tracker: signal.tracker, store }));
    const cpu = cpuMs(browser.pid) - cpuBefore;
    if (BREAKDOWN) {
      console.log(`    ${impl.name} CPU ms/MiB by process: ${breakdown(byProcessBefore, cpuByProcess(browser.pid), size / 2 ** 20, seederRenderers)}`);
    }
    if (PROFILE) {
      const [seederTop, leecherTop] = await Promise.all(profiles.map((stop) => stop()));
      console.log(`    ${impl.name} seeder main thread, self time:\n${seederTop}\n    ${impl.name} downloader main thread, self time:\n${leecherTop}`);
    }
    const rss = stopRss();
    if (r.bytes < size) throw new Error(`${impl.name} downloaded only ${r.bytes} of ${size} bytes`);
    const mib = size / 2 ** 20;
    return { cold: (r.doneAt - navAt) / 1000, warm: (r.doneAt - r.addAt) / 1000, mbps: size / 1e6 / ((r.doneAt - r.addAt) / 1000), cpuPerMiB: cpu / mib, rss };
  } finally {
    await browser.close();
  }
}

/** The floor: one RTCDataChannel between pages of the two origins, `size` bytes in messages
 *  of `message` bytes, the send buffer kept between 256 KiB and 1 MiB (the channel is never idle). */
async function runRaw(message, size, signal, otherOrigin) {
  const browser = await freshBrowser();
  try {
    const renderersBefore = new Set(tree(browser.pid).filter((p) => p.renderer).map((p) => p.pid));
    const sender = await browser.open(signal.base);
    const senderPids = new Set(tree(browser.pid).filter((p) => p.renderer && !renderersBefore.has(p.pid)).map((p) => p.pid));
    const receiver = await browser.open(otherOrigin.base);
    const offer = await sender.evaluate(async () => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      const channel = pc.createDataChannel('raw');
      channel.binaryType = 'arraybuffer';
      window.raw = { pc, channel, open: new Promise((r) => channel.addEventListener('open', r, { once: true })) };
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((r) => { // complete SDP, as both clients signal it
        if (pc.iceGatheringState === 'complete') r();
        pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') r(); });
      });
      return pc.localDescription.sdp;
    });
    const answer = await receiver.evaluate(async ({ offer, size }) => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      window.raw = { pc };
      window.raw.done = new Promise((resolve) => pc.addEventListener('datachannel', ({ channel }) => {
        channel.binaryType = 'arraybuffer';
        let got = 0;
        channel.addEventListener('message', ({ data }) => {
          got += data.byteLength;
          if (got >= size) resolve(Date.now());
        });
      }));
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise((r) => {
        if (pc.iceGatheringState === 'complete') r();
        pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') r(); });
      });
      return pc.localDescription.sdp;
    }, { offer, size });
    await sender.evaluate(async (answer) => {
      await window.raw.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      await window.raw.open;
    }, answer);
    const cpuBefore = cpuMs(browser.pid);
    const byProcessBefore = cpuByProcess(browser.pid);
    const startAt = await sender.evaluate(({ message, size }) => {
      const { channel } = window.raw;
      const chunk = new Uint8Array(message); // SCTP does not compress: the bytes do not matter
      let sent = 0;
      channel.bufferedAmountLowThreshold = 256 * 1024;
      const pump = () => {
        while (sent < size && channel.bufferedAmount < 1024 * 1024) {
          const n = Math.min(message, size - sent);
          channel.send(n === message ? chunk : chunk.subarray(0, n));
          sent += n;
        }
      };
      channel.addEventListener('bufferedamountlow', pump);
      const startAt = Date.now();
      pump();
      return startAt;
    }, { message, size });
    const doneAt = await within(120_000, 'the raw channel did not deliver', receiver.evaluate(() => window.raw.done));
    const cpu = cpuMs(browser.pid) - cpuBefore;
    if (BREAKDOWN) {
      console.log(`    raw ${message / 1024} KiB CPU ms/MiB by process: ${breakdown(byProcessBefore, cpuByProcess(browser.pid), size / 2 ** 20, senderPids)}`);
    }
    const seconds = (doneAt - startAt) / 1000;
    return { mbps: size / 1e6 / seconds, cpuPerMiB: cpu / (size / 2 ** 20) };
  } finally {
    await browser.close();
  }
}

const range = (xs, digits = 1) => {
  const lo = Math.min(...xs), hi = Math.max(...xs);
  return lo.toFixed(digits) === hi.toFixed(digits) ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
};
/** Ratios a/b of the runs of the same repetition (run next to each other: the machine's
 *  speed drifts between repetitions), as "×lo–hi". `as`, `bs`: [{ rep, value }]. */
const ratios = (as, bs) => {
  const xs = as.flatMap((a) => bs.filter((b) => b.rep === a.rep).map((b) => a.value / b.value));
  return xs.length ? `×${range(xs, 2)}` : '-';
};
const values = (runs, key) => runs.map((r) => ({ rep: r.rep, value: typeof key === 'function' ? key(r) : r[key] }));

const impls = [seedcast, webtorrent].filter((i) => !process.env.CLIENTS || process.env.CLIENTS.split(',').some((c) => i.name.toLowerCase().startsWith(c)));
const signal = await startSignal({ www: WWW });
// Serves the same files from a second origin (its own tracker is not used): the downloader's
// storage is then separate from the seeder's, as between two users.
const otherOrigin = await startSignal({ host: '127.0.0.2', www: WWW });
const scenarios = RATES.flatMap((rate) => STORES.map((store) => ({ rate, store, size: sizeFor(rate) })));
const label = (s) => `${s.size / 2 ** 20} MiB, seeder ${s.rate ? `${s.rate / 1e6} MB/s` : 'unlimited'}, ${s.store}`;
const results = new Map(scenarios.map((s) => [label(s), new Map(impls.map((i) => [i.name, []]))]));
const raw = new Map(RAW_MESSAGES.map((m) => [m, []]));
console.log(`transfer in Chromium, ${REPS} repetitions; cold = from the downloader's navigation, warm = from add(), both to done`);
try {
  for (let rep = 1; rep <= REPS; rep++) {
    for (const message of RAW_MESSAGES) {
      const r = await runRaw(message, MIB * 2 ** 20, signal, otherOrigin);
      raw.get(message).push({ ...r, rep });
      console.log(`  run ${rep} raw channel, ${message / 1024} KiB messages, ${MIB} MiB: ${r.mbps.toFixed(1)} MB/s, ${r.cpuPerMiB.toFixed(0)} ms CPU/MiB`);
    }
    for (const scenario of scenarios) {
      for (const impl of rep % 2 ? impls : [...impls].reverse()) {
        try {
          const r = await runClient(impl, scenario, signal, otherOrigin);
          results.get(label(scenario)).get(impl.name).push({ ...r, rep });
          console.log(`  run ${rep} ${label(scenario).padEnd(38)} ${impl.name.padEnd(18)} cold ${r.cold.toFixed(2)} s, warm ${r.warm.toFixed(2)} s `
            + `(${r.mbps.toFixed(1)} MB/s), ${r.cpuPerMiB.toFixed(0)} ms CPU/MiB, downloader RSS ${r.rss.toFixed(0)} MiB`);
        } catch (e) {
          console.log(`  run ${rep} ${label(scenario).padEnd(38)} ${impl.name.padEnd(18)} failed: ${e.message}`);
        }
      }
    }
  }
} finally {
  await signal.stop();
  await otherOrigin.stop();
  rmSync(WWW, { recursive: true, force: true });
}

console.log(`\n| scenario | client | cold s | warm s | MB/s (warm) | CPU ms/MiB | downloader RSS MiB |`);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [message, runs] of raw) {
  if (runs.length) console.log(`| ${MIB} MiB, no client | raw channel, ${message / 1024} KiB messages | | | ${range(runs.map((r) => r.mbps))} | ${range(runs.map((r) => r.cpuPerMiB), 0)} | |`);
}
for (const [name, byImpl] of results) {
  for (const [impl, runs] of byImpl) {
    if (!runs.length) continue;
    const pick = (k, d) => range(runs.map((r) => r[k]), d);
    console.log(`| ${name} | ${impl} | ${pick('cold', 2)} | ${pick('warm', 2)} | ${pick('mbps')} | ${pick('cpuPerMiB', 0)} | ${pick('rss', 0)} |`);
  }
}
const [ours, theirs] = [seedcast.name, webtorrent.name];
console.log('\nSeedcast / WebTorrent, runs of the same repetition paired (time and CPU: lower is better for Seedcast; throughput: higher):');
for (const [name, byImpl] of results) {
  const a = byImpl.get(ours) ?? [], b = byImpl.get(theirs) ?? [];
  if (!a.length || !b.length) continue;
  const col = (k) => ratios(values(a, k), values(b, k));
  console.log(`  ${name.padEnd(38)} cold time ${col('cold')}, warm time ${col('warm')}, throughput ${col('mbps')}, CPU/MiB ${col('cpuPerMiB')}, RSS ${col('rss')}`);
}
const floor = raw.get(SEEDCAST_MESSAGE) ?? [];
for (const [name, byImpl] of results) {
  const a = byImpl.get(ours) ?? [];
  if (!a.length || !floor.length || !name.includes('unlimited')) continue;
  console.log(`  ${name.padEnd(38)} Seedcast / raw channel at ${SEEDCAST_MESSAGE / 1024} KiB: CPU/MiB ${ratios(values(a, 'cpuPerMiB'), values(floor, 'cpuPerMiB'))}, throughput ${ratios(values(a, 'mbps'), values(floor, 'mbps'))}`);
}
// A limited seeder's floor is F / limit; a client can only beat it by sending faster than the
// limit it was given, so each client's average rate over the download is shown against it.
for (const s of scenarios.filter((s) => s.rate)) {
  for (const [impl, runs] of results.get(label(s))) {
    if (!runs.length) continue;
    const floor = s.size / s.rate;
    console.log(`  ${label(s).padEnd(38)} ${impl}: warm time / the limit's floor (${floor.toFixed(1)} s) ×${range(runs.map((r) => r.warm / floor), 2)}; `
      + `seeder's average rate / its limit ×${range(runs.map((r) => s.size / r.warm / s.rate), 2)}`);
  }
}
