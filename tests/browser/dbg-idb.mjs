import { startSignal, launchBrowser, newContext, openPage, within } from './harness.mjs';
const MiB = 1024 * 1024;
const signal = await startSignal();
const browser = await launchBrowser();
try {
  const seedCtx = await newContext(browser);
  const a = await openPage(seedCtx, signal.base);
  const magnet = await a.evaluate(async ({ tracker }) => {
    const content = window.testUtils.makeContent(24 * 1024 * 1024, 8);
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = await client.seed(new File([content], 'stored.bin'));
    window.keep = client;
    return torrent.magnetURI;
  }, { tracker: signal.tracker });
  const b = await openPage(await newContext(browser), signal.base);
  b.on('console', (m) => console.log('page:', m.text()));
  const go = () => b.evaluate(async ({ tracker, magnet }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage: 'indexeddb' });
    const torrent = client.add(magnet);
    window.dl = { client, torrent };
    torrent.addEventListener('warning', (e) => console.log('warning', e.detail.message));
    for (let i = 0; i < 20 && !torrent.stats().done; i++) { await new Promise((r) => setTimeout(r, 1000)); const s = torrent.stats(); console.log(JSON.stringify({ p: s.progress, d: s.downloaded, st: s.storage, c: s.cachedBytes })); }
    return torrent.stats().done;
  }, { tracker: signal.tracker, magnet });
  console.log('first', await go());
  await seedCtx.close();
  await b.reload();
  await b.evaluate(async () => { window.Seedcast = await import('/seedcast.js'); await window.Seedcast.loadSeedcast(); });
  console.log('second', await go());
} finally { await browser.close(); await signal.stop(); }
