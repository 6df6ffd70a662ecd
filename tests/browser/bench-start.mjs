// Benchmark: how fast a magnet link starts, Seedcast vs WebTorrent 3.0.21 in the same run.
// One seeder page and one downloader page (separate profiles) per run, both clients in memory,
// one seedcast-signal as tracker, a small file (4 MiB) so the start dominates. From the
// `add(magnet)` call, in the page's clock: the first peer, the metadata, the first verified
// piece, done. Two cases: a client made 500 ms before `add()` (a page that set up its client
// ahead, as `<seedcast-player>` does once per page), and a client made right before it.
// Clients alternate within a repetition; ratios pair the runs of one repetition.
// Usage: node tests/browser/bench-start.mjs. Env: REPS (5), MIB (4), CLIENTS.
import { startSignal, launchBrowserWithPid, newContext, openPage, within } from './harness.mjs';

const REPS = Number(process.env.REPS) || 5;
const SIZE = (Number(process.env.MIB) || 4) * 2 ** 20;
const CASES = [{ name: 'client ready', waitMs: 500 }, { name: 'new client', waitMs: 0 }];
const IMPLS = ['Seedcast', 'WebTorrent 3.0.21']
  .filter((n) => !process.env.CLIENTS || process.env.CLIENTS.split(',').some((c) => n.toLowerCase().startsWith(c)));

/** Seeds SIZE bytes from a new page; resolves with the magnet link. */
async function seed(browser, signal, impl) {
  const page = await openPage(await newContext(browser), signal.base);
  const magnet = await page.evaluate(async ({ impl, tracker, size }) => {
    const file = new File([window.testUtils.makeContent(size)], 'start.bin');
    if (impl === 'Seedcast') {
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage: 'memory' });
      window.keep = client;
      return (await client.seed(file)).magnetURI;
    }
    const WebTorrent = (await import('/webtorrent.min.js')).default;
    const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    window.keep = client;
    return new Promise((res) => client.seed(file, { announce: [tracker], store: window.testUtils.MemoryStore }, (t) => res(t.magnetURI)));
  }, { impl, tracker: signal.tracker, size: SIZE });
  return { page, magnet };
}

/** One start: ms from `add()` to each step. */
async function start(browser, signal, impl, magnet, waitMs) {
  const page = await openPage(await newContext(browser), signal.base);
  try {
    if (impl !== 'Seedcast') await page.evaluate(async () => { window.WebTorrent = (await import('/webtorrent.min.js')).default; });
    return await within(60_000, `${impl} did not finish`, page.evaluate(({ impl, magnet, tracker, waitMs }) => new Promise((resolve, reject) => {
      const steps = {};
      let t0 = 0;
      const at = (k) => { steps[k] ??= performance.now() - t0; };
      const ready = impl === 'Seedcast'
        ? window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage: 'memory' })
        : Promise.resolve(new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } }));
      ready.then(async (client) => {
        if (waitMs) await new Promise((r) => setTimeout(r, waitMs));
        t0 = performance.now();
        if (impl === 'Seedcast') {
          const t = client.add(magnet);
          t.addEventListener('peer', (e) => { if (e.detail.connected) at('peer'); });
          t.addEventListener('metadata', () => at('metadata'));
          t.addEventListener('progress', () => at('first piece'));
          t.addEventListener('done', () => { at('done'); resolve(steps); });
          t.addEventListener('error', (e) => reject(new Error(e.detail.message)));
        } else {
          const t = client.add(magnet, { announce: [tracker], store: window.testUtils.MemoryStore });
          t.on('wire', () => at('peer'));
          t.on('metadata', () => at('metadata'));
          t.on('verified', () => at('first piece'));
          t.on('done', () => { at('done'); resolve(steps); });
          t.on('error', (e) => reject(new Error(String(e?.message ?? e))));
        }
      }, reject);
    }), { impl, magnet, tracker: signal.tracker, waitMs }));
  } finally {
    await page.context().close();
  }
}

const STEPS = ['peer', 'metadata', 'first piece', 'done'];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2; };

const signal = await startSignal({ intervalSecs: 5 });
const { browser, close } = await launchBrowserWithPid();
const results = new Map(); // `${case}|${impl}` -> [steps per rep]
try {
  for (let rep = 0; rep < REPS; rep++) {
    for (const c of CASES) {
      for (const impl of IMPLS) {
        const seeder = await seed(browser, signal, impl);
        const steps = await start(browser, signal, impl, seeder.magnet, c.waitMs);
        await seeder.page.context().close();
        const key = `${c.name}|${impl}`;
        results.set(key, [...(results.get(key) ?? []), steps]);
        console.log(`  ${c.name.padEnd(12)} ${impl.padEnd(18)} rep ${rep + 1}: ${STEPS.map((s) => `${s} ${steps[s]?.toFixed(0)}`).join(', ')} ms`);
      }
    }
  }
} finally {
  await close();
  await signal.stop();
}

console.log(`\nmagnet start, ${SIZE / 2 ** 20} MiB in memory, loopback, ${REPS} repetitions; ms from add(), median (min–max)`);
console.log(`| case | client | ${STEPS.join(' | ')} |`);
console.log(`| --- | --- |${STEPS.map(() => ' --- |').join('')}`);
for (const c of CASES) {
  for (const impl of IMPLS) {
    const runs = results.get(`${c.name}|${impl}`) ?? [];
    const cell = (s) => { const xs = runs.map((r) => r[s]); return `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`; };
    console.log(`| ${c.name} | ${impl} | ${STEPS.map(cell).join(' | ')} |`);
  }
}
if (IMPLS.length === 2) {
  console.log('\nSeedcast / WebTorrent per repetition (lower is faster):');
  for (const c of CASES) {
    const [a, b] = IMPLS.map((i) => results.get(`${c.name}|${i}`) ?? []);
    for (const s of ['first piece', 'done']) {
      const ratios = a.map((r, i) => r[s] / b[i][s]).sort((x, y) => x - y);
      console.log(`  ${c.name.padEnd(12)} ${s.padEnd(11)} ×${ratios.map((r) => r.toFixed(2)).join(', ×')}`);
    }
  }
}
process.exit(0);
