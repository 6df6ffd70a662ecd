// Swarm benchmark in Chromium: one upload-limited seeder and N upload-limited leechers, each
// page in its own browser profile, all in memory, through one seedcast-signal. Seedcast and
// WebTorrent 3 (its default "sequential" piece strategy, and "rarest") run one after the other
// in the same invocation, on the same content and limits. The clock starts in Node just before
// the leechers' `add()` calls go out (all at once, from the magnet: metadata included) and stops
// at the last leecher's `done`, read from each page's Date.now() (one machine clock).
// Prints the time against the fluid-model bound T* = max(F/U_seed, N·F/(U_seed + N·U_leech)),
// how many copies of the content the seeder sent, and each leecher's upload as a share of its
// limit over the run (DETAIL=1: each leecher's times, and when it threw bytes away), and the
// CPU the browser used over the run against what the machine had: with every page on one machine,
// a swarm that needs more CPU than the cores give is bound by them, not by the engine.
// BREAKDOWN=1: that CPU by process (seeder, leechers, Chromium's other processes); PROFILE=1: the
// first leecher's main thread sampled over the run (top functions by self time).
// Usage: node tests/browser/bench-swarm.mjs
// Env: MIB (24), LEECHERS (4), SEED_RATE (1500000), LEECH_RATE (1000000), REPS (2), CLIENTS.
import { readFileSync } from 'node:fs';
import { startSignal, launchBrowserWithPid, newContext, openPage, within } from './harness.mjs';
import { cpuByProcess, cpuByRole, renderers, sampleMainThread } from './proc.mjs';

/** Machine-wide CPU ticks so far: { busy, total } over all cores (/proc/stat's first line). */
function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = fields.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal (guest is inside user)
  return { busy: total - n[3] - n[4], total }; // minus idle and iowait
}

const MIB = Number(process.env.MIB) || 24;
const SIZE = MIB * 2 ** 20;
const LEECHERS = Number(process.env.LEECHERS) || 4;
const SEED_RATE = Number(process.env.SEED_RATE) || 1_500_000;
const LEECH_RATE = Number(process.env.LEECH_RATE) || 1_000_000;
const REPS = Number(process.env.REPS) || 2;
const T_STAR = Math.max(SIZE / SEED_RATE, (LEECHERS * SIZE) / (SEED_RATE + LEECHERS * LEECH_RATE));

const seedcast = {
  name: 'Seedcast',
  async seed(page, tracker) {
    return page.evaluate(async ({ tracker, size, rate }) => {
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], uploadLimit: rate, storage: 'memory' });
      const torrent = await client.seed(new File([window.testUtils.makeContent(size)], 'swarm.bin'));
      window.swarm = { client, torrent };
      return torrent.magnetURI;
    }, { tracker, size: SIZE, rate: SEED_RATE });
  },
  /** Creates the client (not timed), then returns a function that starts the download. */
  async prepare(page, tracker) {
    await page.evaluate(async ({ tracker, rate }) => {
      window.swarm = { client: await window.Seedcast.SeedcastClient.create({ trackers: [tracker], uploadLimit: rate, storage: 'memory' }) };
    }, { tracker, rate: LEECH_RATE });
    return (magnet) => page.evaluate(({ magnet, detail }) => {
      const torrent = window.swarm.client.add(magnet);
      window.swarm.torrent = torrent;
      torrent.addEventListener('done', () => { window.swarm.doneAt = Date.now(); });
      torrent.addEventListener('metadata', () => { window.swarm.metadataAt = Date.now(); });
      torrent.addEventListener('progress', () => { window.swarm.firstPieceAt ??= Date.now(); });
      if (!detail) return;
      // DETAIL: [time, progress, bytes thrown away] every 200 ms, to tell when waste happens.
      window.swarm.samples = [];
      const sampler = setInterval(() => {
        const s = torrent.stats();
        window.swarm.samples.push([Date.now(), s.progress, s.wasted]);
        if (s.done) clearInterval(sampler);
      }, 200);
    }, { magnet, detail: Boolean(process.env.DETAIL) });
  },
  uploaded: (page) => page.evaluate(() => window.swarm.torrent.stats().uploaded),
};

/** Loads WebTorrent into the page; its memory store is the harness's `testUtils.MemoryStore`
 *  (like Seedcast's `storage: 'memory'`; WebTorrent's browser default is OPFS). */
async function loadWebTorrent(page) {
  await page.evaluate(async () => {
    window.WebTorrent = (await import('/webtorrent.min.js')).default;
    window.MemoryStore = window.testUtils.MemoryStore;
  });
}

function webtorrent(strategy) {
  return {
    name: `WebTorrent 3.0.21 (${strategy})`,
    async seed(page, tracker) {
      await loadWebTorrent(page);
      return page.evaluate(async ({ tracker, size, rate }) => {
        const client = new window.WebTorrent({ uploadLimit: rate, tracker: { rtcConfig: { iceServers: [] } } });
        const file = new File([window.testUtils.makeContent(size)], 'swarm.bin');
        const torrent = await new Promise((res) => client.seed(file, { announce: [tracker], store: window.MemoryStore }, res));
        window.swarm = { client, torrent };
        return torrent.magnetURI;
      }, { tracker, size: SIZE, rate: SEED_RATE });
    },
    async prepare(page, tracker) {
      await loadWebTorrent(page);
      await page.evaluate((rate) => {
        window.swarm = { client: new window.WebTorrent({ uploadLimit: rate, tracker: { rtcConfig: { iceServers: [] } } }) };
      }, LEECH_RATE);
      return (magnet) => page.evaluate(({ magnet, tracker, strategy }) => {
        const torrent = window.swarm.client.add(magnet, { announce: [tracker], strategy, store: window.MemoryStore });
        window.swarm.torrent = torrent;
        torrent.on('done', () => { window.swarm.doneAt = Date.now(); });
      }, { magnet, tracker, strategy });
    },
    uploaded: (page) => page.evaluate(() => window.swarm.torrent.uploaded),
  };
}

async function run(impl, { browser, pid }, signal) {
  const contexts = [];
  const page = async () => {
    const context = await newContext(browser);
    contexts.push(context);
    return openPage(context, signal.base);
  };
  try {
    const earlier = new Set(renderers(pid).map((p) => p.pid));
    const seeder = await page();
    const seederPids = new Set(renderers(pid).map((p) => p.pid).filter((p) => !earlier.has(p)));
    const magnet = await within(120_000, `${impl.name}: seeding did not start`, impl.seed(seeder, signal.tracker));
    const leechers = [];
    for (let i = 0; i < LEECHERS; i++) leechers.push(await page());
    const starts = await Promise.all(leechers.map((p) => impl.prepare(p, signal.tracker)));
    const byProcessBefore = cpuByProcess(pid);
    const stopProfile = process.env.PROFILE ? await sampleMainThread(leechers[0].context(), leechers[0], { intervalUs: 500 }) : null;
    const machineBefore = machineTicks();
    const t0 = Date.now();
    await Promise.all(starts.map((start) => start(magnet)));
    const limitMs = Math.max(180_000, T_STAR * 8_000);
    const done = await within(limitMs, `${impl.name}: the leechers did not all finish`, (async () => {
      for (;;) {
        const at = await Promise.all(leechers.map((p) => p.evaluate(() => window.swarm.doneAt ?? null)));
        if (at.every((t) => t !== null)) return at;
        await new Promise((r) => setTimeout(r, 100));
      }
    })());
    const seconds = (Math.max(...done) - t0) / 1000;
    const machineAfter = machineTicks();
    const machineBusy = (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
    const byRole = cpuByRole(byProcessBefore, cpuByProcess(pid), (p) => (seederPids.has(p) ? 'seeder' : 'leechers'));
    const browserCpuS = byRole.reduce((sum, [, ms]) => sum + ms, 0) / 1000;
    if (process.env.BREAKDOWN) {
      console.log(`    CPU s by process: ${byRole.filter(([, ms]) => ms >= 50).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)}`).join(', ')}`);
    }
    if (stopProfile) console.log(`    first leecher's main thread, top functions by self time:\n${await stopProfile()}`);
    if (process.env.DETAIL) {
      for (const p of leechers) {
        const d = await p.evaluate(() => ({ m: window.swarm.metadataAt, f: window.swarm.firstPieceAt, d: window.swarm.doneAt, r: window.swarm.torrent.stats?.().downloaded, w: window.swarm.torrent.stats?.().wasted }));
        const s = (t) => (t ? ((t - t0) / 1000).toFixed(2) : '-');
        const samples = await p.evaluate(() => window.swarm.samples);
        if (samples) {
          const at = (q) => samples.find(([, progress]) => progress >= q);
          console.log(`      thrown away by progress ${[0.5, 0.8, 0.9, 0.95].map((q) => {
            const x = at(q);
            return x ? `${q}: ${(x[2] / SIZE).toFixed(3)}× (${s(x[0])} s)` : `${q}: -`;
          }).join(', ')}`);
        }
        console.log(`    leecher: metadata ${s(d.m)} s, first piece ${s(d.f)} s, done ${s(d.d)} s${d.r ? `, received ${(d.r / SIZE).toFixed(3)}× the content, threw away ${(d.w / SIZE).toFixed(3)}×` : ''}`);
      }
    }
    const seederSent = (await impl.uploaded(seeder)) / SIZE;
    const shares = await Promise.all(leechers.map(async (p) => (await impl.uploaded(p)) / (LEECH_RATE * seconds)));
    return { seconds, seederSent, shares, machineBusy, browserCpuS };
  } finally {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
  }
}

const signal = await startSignal();
const browser = await launchBrowserWithPid();
// CLIENTS=seedcast runs only Seedcast (for A/B runs of a change); default: all three.
const impls = [seedcast, webtorrent('sequential'), webtorrent('rarest')]
  .filter((i) => !process.env.CLIENTS || process.env.CLIENTS.split(',').some((c) => i.name.toLowerCase().startsWith(c)));
const results = new Map(impls.map((i) => [i.name, []]));
console.log(`swarm in Chromium: 1 seeder at ${SEED_RATE / 1e6} MB/s, ${LEECHERS} leechers at ${LEECH_RATE / 1e6} MB/s, ${MIB} MiB, all in memory (T* = ${T_STAR.toFixed(1)} s)`);
try {
  for (let rep = 1; rep <= REPS; rep++) {
    for (const impl of impls) {
      try {
        const r = await run(impl, browser, signal);
        results.get(impl.name).push(r.seconds);
        console.log(`  run ${rep} ${impl.name.padEnd(32)} all done ${r.seconds.toFixed(1).padStart(6)} s = ${(r.seconds / T_STAR).toFixed(2)}× T*; `
          + `seeder sent the content ${r.seederSent.toFixed(2)}×; leecher upload / limit: ${r.shares.map((s) => `${Math.round(s * 100)}%`).join(' ')}; `
          + `browser CPU ${r.browserCpuS.toFixed(1)} s (${Math.round((r.browserCpuS * 1000) / (MIB * LEECHERS))} ms per MiB received), machine busy ${Math.round(r.machineBusy * 100)}%`);
      } catch (e) {
        console.log(`  run ${rep} ${impl.name.padEnd(32)} failed: ${e.message}`);
      }
    }
  }
  const ours = results.get(seedcast.name) ?? []; // CLIENTS may leave Seedcast out
  for (const impl of impls.slice(1)) {
    const theirs = results.get(impl.name) ?? [];
    if (!ours.length || !theirs.length) continue;
    const ratios = ours.flatMap((a) => theirs.map((b) => a / b));
    console.log(`Seedcast / ${impl.name}: ×${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} (time until all leechers are done; lower is better)`);
  }
} finally {
  await browser.close();
  await signal.stop();
}
