// Browser storage a user notices: a reload resumes a download from OPFS (or IndexedDB)
// without fetching it again, even from a bare magnet link with no peer online; the resumed
// tab seeds; memory holds only a bounded cache; stored torrents can be listed and cleared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useSignalAndBrowser, newContext, openPage, seedContent, within } from './harness.mjs';

const MiB = 1024 * 1024;
const env = useSignalAndBrowser();

/** Adds `magnet` in `page` and resolves once it is done, with what the page saw. */
function download(page, magnet, storage) {
  return page.evaluate(async ({ tracker, magnet, storage }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage });
    const torrent = client.add(magnet);
    window.dl = { client, torrent, warnings: [] };
    torrent.addEventListener('warning', (e) => window.dl.warnings.push(e.detail.message));
    let maxCached = 0;
    const timer = setInterval(() => { maxCached = Math.max(maxCached, torrent.stats().cachedBytes); }, 50);
    await new Promise((resolve) => {
      if (torrent.stats().done) resolve();
      torrent.addEventListener('done', resolve);
    });
    clearInterval(timer);
    // Verified is not yet saved: wait for the last writes, as a user would before closing.
    while (torrent.stats().unsavedBytes > 0) await new Promise((r) => setTimeout(r, 50));
    const s = torrent.stats();
    return {
      storage: s.storage, downloaded: s.downloaded, progress: s.progress, cachedBytes: s.cachedBytes, maxCached,
      digest: await window.testUtils.sha256(await torrent.files[0].bytes()),
    };
  }, { tracker: env.signal.tracker, magnet, storage });
}

for (const storage of ['opfs', 'indexeddb']) {
  test(`a reload resumes from ${storage} without downloading again, and the resumed tab seeds`, { timeout: 180_000 }, async () => {
    const size = 24 * MiB;
    const seedCtx = await newContext(env.browser);
    const a = await seedContent(env, seedCtx, size, storage === 'opfs' ? 7 : 8);
    const viewerCtx = await newContext(env.browser);
    const b = await openPage(viewerCtx, env.signal.base);
    const first = await within(90_000, 'the first download did not finish', download(b, a.magnet, storage));
    assert.equal(first.storage, storage, 'pieces went to the requested browser storage');
    assert.equal(first.digest, a.digest);
    assert.ok(first.downloaded >= size, `the first visit downloaded the file (${first.downloaded} bytes)`);

    // Nobody else has the file now: what the reloaded tab shows comes from its own storage.
    await seedCtx.close();
    await b.reload();
    await b.evaluate(async () => {
      window.Seedcast = await import('/seedcast.js');
      await window.Seedcast.loadSeedcast();
    });
    const again = await within(30_000, 'the reloaded tab did not resume from storage', download(b, a.magnet, storage))
      .catch(async (e) => { throw new Error(`${e.message}; warnings: ${JSON.stringify(await b.evaluate(() => window.dl?.warnings))}`); });
    assert.equal(again.progress, 1, 'every piece is back after the reload');
    assert.equal(again.downloaded, 0, 'nothing was downloaded again');
    assert.equal(again.digest, a.digest, 'the stored file is intact');

    // Reloaded again, a stream opened at once (before the storage has even been opened, as
    // a player does) reads the whole file from storage.
    await b.reload();
    const streamed = await within(30_000, 'a stream opened right after a reload did not read the stored file', b.evaluate(async ({ tracker, magnet, storage }) => {
      window.Seedcast = await import('/seedcast.js');
      await window.Seedcast.loadSeedcast();
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage });
      const torrent = client.add(magnet);
      window.dl = { client, torrent };
      const stream = torrent.openStream(0, 0);
      const parts = [];
      for (let chunk; (chunk = await stream.next()) !== undefined;) parts.push(chunk);
      stream.close();
      const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
      return { digest: await window.testUtils.sha256(bytes), downloaded: torrent.stats().downloaded };
    }, { tracker: env.signal.tracker, magnet: a.magnet, storage }));
    assert.equal(streamed.digest, a.digest, 'the streamed bytes are the file');
    assert.equal(streamed.downloaded, 0, 'all of it came from storage');

    // The resumed tab is now the only seeder: a new viewer gets the whole file from it.
    const c = await openPage(await newContext(env.browser), env.signal.base);
    const third = await within(90_000, 'a new viewer could not download from the resumed tab', download(c, a.magnet, 'memory'));
    assert.equal(third.digest, a.digest);

    // Listed, then cleared: the next visit starts from nothing.
    const listed = await b.evaluate(() => window.dl.client.stored());
    const entry = listed.find((t) => t.infoHash === a.infoHash);
    assert.ok(entry, `stored() lists the torrent (got ${JSON.stringify(listed)})`);
    assert.equal(entry.name, 'stored.bin');
    assert.equal(entry.storedBytes, size);
    await b.evaluate((hex) => window.dl.client.clearStored(hex), a.infoHash);
    const after = await b.evaluate(() => window.dl.client.stored());
    assert.ok(!after.some((t) => t.infoHash === a.infoHash), 'clearStored removed it');
    assert.equal(await b.evaluate(() => window.dl.client.torrents.length), 0, 'and removed the torrent from the client');
    await Promise.all([viewerCtx.close(), c.context().close()]);
  });
}

test('memory holds a bounded cache of pieces, whatever the file size, on both ends', { timeout: 180_000 }, async () => {
  const size = 96 * MiB;
  const a = await seedContent(env, await newContext(env.browser), size, 9);
  const b = await openPage(await newContext(env.browser), env.signal.base);
  const result = await within(150_000, 'the download did not finish', download(b, a.magnet, 'auto'));
  assert.equal(result.digest, a.digest);
  assert.equal(result.storage, 'opfs');
  // 4 MiB of cache, plus at most 4 MiB waiting for their write (downloads are held above
  // that) and the 4 MiB of requests already in flight when the hold starts.
  assert.ok(result.maxCached <= 12 * MiB, `downloader kept ${(result.maxCached / MiB).toFixed(1)} MiB of pieces in memory`);
  const seeded = await a.page.evaluate(() => window.seed.torrent.stats());
  assert.equal(seeded.storage, 'files', 'the seeder serves from the shared file itself');
  // A seed reads from the user's file through a 32 MiB cache (plus the one run that may
  // just have landed): far less than the 96 MiB file.
  assert.ok(seeded.cachedBytes <= 34 * MiB, `seeder kept ${(seeded.cachedBytes / MiB).toFixed(1)} MiB in memory`);
  await Promise.all([a.page.context().close(), b.context().close()]);
});

test('storage errors are one-line messages, not crashes', { timeout: 60_000 }, async () => {
  const page = await openPage(await newContext(env.browser), env.signal.base);
  const messages = await page.evaluate(async () => {
    const out = [];
    try { await window.Seedcast.SeedcastClient.create({ storage: 'floppy' }); } catch (e) { out.push(e.message); }
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [] });
    try { await client.clearStored('not-a-hash'); } catch (e) { out.push(e.message); }
    return out;
  });
  assert.equal(messages.length, 2);
  assert.match(messages[0], /`storage` must be/);
  assert.match(messages[1], /not a hex info hash/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
