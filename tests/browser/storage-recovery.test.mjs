// Storage you can trust after a crash, as a user sees it: a stored copy damaged while the
// tab was closed (truncated or corrupted) is noticed on reload and the bad pieces are
// fetched again; a full store says so instead of silently losing pieces; a shared file
// changed on disk stops being served (nobody gets bad bytes) and the page is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useSignalAndBrowser, newContext, openPage, seedContent, within, until } from './harness.mjs';

const MiB = 1024 * 1024;
const env = useSignalAndBrowser();

/** Adds `magnet` in `page` (keeping the client and its warnings in `window.dl`). */
function start(page, magnet, storage) {
  return page.evaluate(async ({ tracker, magnet, storage }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage });
    const torrent = client.add(magnet);
    window.dl = { client, torrent, warnings: [], errors: [] };
    torrent.addEventListener('warning', (e) => window.dl.warnings.push(e.detail.message));
    torrent.addEventListener('error', (e) => window.dl.errors.push(e.detail));
  }, { tracker: env.signal.tracker, magnet, storage });
}

/** Waits until the page's download is done, saved and (if resumed) re-checked; what it saw,
 *  with the file's digest. */
function finish(page) {
  return page.evaluate(async () => {
    const { torrent } = window.dl;
    const settled = (s) => s.done && s.unsavedBytes === 0 && !(s.unverifiedPieces > 0);
    while (!settled(torrent.stats())) await new Promise((r) => setTimeout(r, 50));
    const s = torrent.stats();
    return {
      storage: s.storage, downloaded: s.downloaded, length: s.length, numPieces: s.numPieces,
      digest: await window.testUtils.sha256(await torrent.files[0].bytes()), warnings: window.dl.warnings,
    };
  });
}

const warnings = (page) => page.evaluate(() => window.dl?.warnings ?? []);

async function reloadSeedcast(page) {
  await page.reload();
  await page.evaluate(async () => {
    window.Seedcast = await import('/seedcast.js');
    await window.Seedcast.loadSeedcast();
  });
}

/** Damages the stored copy of `hex` from the page itself (the tab's storage worker is gone
 *  after a reload): piece 1 gets garbage in its middle, and the last piece is cut short
 *  (OPFS: the data file is truncated; IndexedDB: its record is). */
function damage(page, storage, hex, pieceLength, numPieces) {
  return page.evaluate(async ({ storage, hex, pieceLength, numPieces }) => {
    const garbage = new Uint8Array(1000).fill(0xa5);
    if (storage === 'opfs') {
      const root = await navigator.storage.getDirectory();
      const dir = await (await root.getDirectoryHandle('seedcast')).getDirectoryHandle(hex);
      const file = await dir.getFileHandle('data');
      // The previous page's worker may hold the file a moment longer.
      for (let attempt = 0; ; attempt++) {
        try {
          const w = await file.createWritable({ keepExistingData: true });
          await w.write({ type: 'write', position: pieceLength + 100, data: garbage });
          await w.truncate((numPieces - 1) * pieceLength + 10);
          await w.close();
          return;
        } catch (e) {
          if (attempt > 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open('seedcast', 1);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    await new Promise((resolve, reject) => {
      const tx = db.transaction('pieces', 'readwrite');
      const pieces = tx.objectStore('pieces');
      const one = pieces.get(`${hex}:1`);
      one.onsuccess = () => {
        const bytes = new Uint8Array(one.result);
        bytes.set(garbage, 100);
        pieces.put(bytes.buffer, `${hex}:1`);
      };
      const last = pieces.get(`${hex}:${numPieces - 1}`);
      last.onsuccess = () => pieces.put(last.result.slice(0, 10), `${hex}:${numPieces - 1}`);
      tx.oncomplete = resolve;
      tx.onabort = () => reject(tx.error);
    });
    db.close();
  }, { storage, hex, pieceLength, numPieces });
}

for (const storage of ['opfs', 'indexeddb']) {
  test(`a ${storage} copy damaged while the tab was closed is noticed on reload and repaired from the swarm`, { timeout: 180_000 }, async () => {
    const size = 8 * MiB;
    const a = await seedContent(env, await newContext(env.browser), size, storage === 'opfs' ? 21 : 22);
    const b = await openPage(await newContext(env.browser), env.signal.base);
    await start(b, a.magnet, storage);
    const first = await within(90_000, 'the first download did not finish', finish(b));
    assert.equal(first.storage, storage);
    assert.equal(first.digest, a.digest);
    const pieceLength = first.length / first.numPieces;
    assert.ok(Number.isInteger(pieceLength), `piece length of ${first.length} / ${first.numPieces}`);

    await reloadSeedcast(b);
    await damage(b, storage, a.infoHash, pieceLength, first.numPieces);
    await start(b, a.magnet, storage);
    // The resumed torrent must notice by itself (nobody reads the file yet)...
    await within(60_000, 'the damaged pieces were never noticed', until(async () => {
      const w = await warnings(b);
      return w.some((m) => /corrupt or missing/.test(m));
    })).catch(async (e) => { throw new Error(`${e.message}; warnings: ${JSON.stringify(await warnings(b))}`); });
    // ...fetch just those pieces again from the seeder, and then the file is intact.
    const again = await within(90_000, 'the damaged pieces were not downloaded again', finish(b));
    assert.equal(again.digest, a.digest, 'the file is intact after the repair');
    assert.ok(again.downloaded >= 2 * pieceLength, `the bad pieces came again (${again.downloaded} bytes)`);
    assert.ok(again.downloaded < size / 2, `only the bad pieces came again (${again.downloaded} of ${size} bytes)`);
    assert.deepEqual(b.errors, []);

    // Repaired for good: the next reload resumes everything without a warning or a download.
    await reloadSeedcast(b);
    await start(b, a.magnet, storage);
    const third = await within(60_000, 'the repaired copy did not resume', finish(b));
    assert.equal(third.digest, a.digest);
    assert.equal(third.downloaded, 0);
    assert.deepEqual(third.warnings.filter((m) => /corrupt|missing/.test(m)), []);
    await Promise.all([a.page.context().close(), b.context().close()]);
  });
}

test('a full IndexedDB is reported as "storage is full" and nothing is lost', { timeout: 180_000 }, async () => {
  const size = 6 * MiB;
  const a = await seedContent(env, await newContext(env.browser), size, 23);
  const context = await newContext(env.browser);
  const b = await openPage(context, env.signal.base);
  // A real quota, made tiny through the DevTools protocol (no test hook in the app).
  const cdp = await context.newCDPSession(b);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: env.signal.base, quotaSize: 512 * 1024 });
  await start(b, a.magnet, 'indexeddb');
  const result = await within(90_000, 'the download did not finish', b.evaluate(async () => {
    const { torrent } = window.dl;
    await new Promise((resolve) => {
      if (torrent.stats().done) resolve();
      torrent.addEventListener('done', resolve);
    });
    const s = torrent.stats();
    return { storage: s.storage, digest: await window.testUtils.sha256(await torrent.files[0].bytes()), errors: window.dl.errors, kept: window.dl.client.torrents.includes(torrent) };
  }));
  assert.equal(result.storage, 'indexeddb');
  const quota = result.errors.filter((e) => e.code === 'storage-quota');
  assert.equal(quota.length, 1, `one storage-quota error (got ${JSON.stringify(result.errors)})`);
  assert.match(quota[0].message, /^storage is full: .*kept in memory only/);
  assert.equal(quota[0].fatal, false);
  assert.ok(result.kept, 'the torrent carries on');
  assert.equal(result.digest, a.digest, 'pieces the store refused are still there (kept in memory)');
  await Promise.all([a.page.context().close(), context.close()]);
});

test('a shared file changed on disk stops being served and the page is told', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seedcast-shared-'));
  const path = join(dir, 'shared.bin');
  const size = 2 * MiB;
  const bytes = (seed) => {
    const out = Buffer.alloc(size);
    let x = seed;
    for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
    return out;
  };
  writeFileSync(path, bytes(1));
  try {
    const a = await openPage(await newContext(env.browser), env.signal.base);
    await a.evaluate(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'share';
      document.body.append(input);
    });
    await a.setInputFiles('#share', path);
    const magnet = await a.evaluate(async (tracker) => {
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
      const torrent = await client.seed(document.getElementById('share').files[0]);
      window.seed = { client, torrent, warnings: [] };
      torrent.addEventListener('warning', (e) => window.seed.warnings.push(e.detail.message));
      return torrent.magnetURI;
    }, env.signal.tracker);
    assert.equal(await a.evaluate(() => window.seed.torrent.stats().done), true);

    // The user edits the file after sharing it (same size, new content and time).
    writeFileSync(path, bytes(2));
    const later = new Date(Date.now() + 60_000);
    utimesSync(path, later, later);

    const b = await openPage(await newContext(env.browser), env.signal.base);
    await b.evaluate(async ({ tracker, magnet }) => {
      const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage: 'memory' });
      const torrent = client.add(magnet);
      window.dl = { client, torrent, warnings: [], bans: [] };
      torrent.addEventListener('warning', (e) => window.dl.warnings.push(e.detail.message));
      torrent.addEventListener('ban', (e) => window.dl.bans.push(e.detail.reason));
    }, { tracker: env.signal.tracker, magnet });

    const seen = await within(60_000, 'the seeder never reported its changed file', until(async () => {
      const w = await a.evaluate(() => window.seed.warnings);
      return w.find((m) => /changed on disk/.test(m));
    })).catch(async (e) => { throw new Error(`${e.message}; warnings: ${JSON.stringify(await a.evaluate(() => window.seed.warnings))}`); });
    assert.match(seen, /shared\.bin/);
    const seeded = await a.evaluate(() => window.seed.torrent.stats());
    assert.equal(seeded.done, false, 'the seed no longer claims the changed pieces');
    assert.equal(seeded.progress, 0);
    // The viewer got no bad bytes: nothing failed its hash, nobody was banned.
    const viewer = await b.evaluate(() => ({ ...window.dl.torrent.stats(), warnings: window.dl.warnings, bans: window.dl.bans }));
    assert.deepEqual(viewer.bans, []);
    assert.deepEqual(viewer.warnings.filter((m) => /hash/.test(m)), []);
    assert.equal(viewer.wasted, 0);
    await Promise.all([a.context().close(), b.context().close()]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
