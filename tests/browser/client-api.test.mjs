// The page-facing API as a web developer meets it: stable file objects, piece length in stats,
// one way to close a stream, error events with codes (no tracker, no peers, no WebRTC),
// conflicting options refused, and the streaming worker registered ahead of time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { useSignalAndBrowser, newContext, openPage, seedContent, within, staticServer, ROOT } from './harness.mjs';

const env = useSignalAndBrowser();

const servers = [];
after(async () => { for (const s of servers) await s.close(); });

test('files are the same objects, stats say the piece length, a stream ends with one close()', { timeout: 90_000 }, async () => {
  const size = 300_000;
  const seed = await seedContent(env, await newContext(env.browser), size, 7);
  const page = await openPage(await newContext(env.browser), env.signal.base);
  const result = await within(60_000, 'the download did not finish', page.evaluate(async ({ tracker, magnet }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], storage: 'memory' });
    const torrent = client.add(magnet);
    const before = torrent.files.length;
    await new Promise((res) => torrent.addEventListener('done', res, { once: true }));
    const [file] = torrent.files;
    const stats = torrent.stats();
    const familiar = {
      get: client.get(torrent.infoHash.toUpperCase()) === torrent && client.get(magnet) === torrent && client.get('nope') === undefined,
      numbers: [torrent.progress, torrent.done, torrent.length, torrent.pieceLength, torrent.numPeers >= 0, torrent.downloaded >= 0],
    };
    const stream = torrent.openStream(0);
    const parts = [];
    for await (const chunk of stream) parts.push(chunk.slice());
    const again = (() => { try { stream.close(); return 'ok'; } catch (e) { return e.message; } })();
    const afterClose = await stream.next().then(() => 'resolved', (e) => e.message);
    const removedBefore = client.torrents.length;
    return {
      before,
      sameArray: torrent.files === torrent.files,
      sameFile: torrent.files[0] === file,
      frozen: Object.isFrozen(torrent.files),
      progress: file.progress,
      done: file.done,
      json: JSON.parse(JSON.stringify(file)),
      pieceLength: stats.pieceLength,
      numPieces: stats.numPieces,
      length: stats.length,
      closed: stream.closed,
      familiar,
      again,
      afterClose,
      digest: await window.testUtils.sha256(new Uint8Array(await new Blob(parts).arrayBuffer())),
      removed: (client.remove(magnet), [removedBefore, client.torrents.length]),
    };
  }, { tracker: env.signal.tracker, magnet: seed.magnet }));
  assert.equal(result.before, 0, 'no files before the metadata');
  assert.ok(result.sameArray && result.sameFile && result.frozen, 'files[0] === files[0]');
  assert.equal(result.progress, 1);
  assert.equal(result.done, true, 'progress and done are live');
  assert.equal(result.json.length, size);
  assert.equal(result.json.done, true);
  assert.equal(result.length, size);
  assert.ok(Number.isInteger(Math.log2(result.pieceLength)), `piece length ${result.pieceLength}`);
  assert.equal(result.numPieces, Math.ceil(size / result.pieceLength));
  assert.equal(result.digest, seed.digest, 'for await read the whole file');
  assert.ok(result.familiar.get, 'client.get by info hash (any case) and by magnet');
  assert.deepEqual(result.removed, [1, 0], 'client.remove(magnet)');
  assert.deepEqual(result.familiar.numbers, [1, true, size, result.pieceLength, true, true], 'WebTorrent-style torrent numbers');
  assert.equal(result.closed, true, 'the loop closed the stream');
  assert.equal(result.again, 'ok', 'close() twice is fine');
  assert.match(result.afterClose, /closed/);
  await seed.page.context().close();
  await page.context().close();
});

test('error events a page can show: no tracker, no peers, stalled, no WebRTC; a conflicting store throws', { timeout: 90_000 }, async () => {
  const page = await openPage(await newContext(env.browser), env.signal.base);
  const result = await within(30_000, 'the errors did not arrive', page.evaluate(async ({ tracker, hash }) => {
    const { SeedcastClient } = window.Seedcast;
    const event = (target, type) => new Promise((res) => target.addEventListener(type, (e) => res(e.detail), { once: true }));

    const unreachable = await SeedcastClient.create({ trackers: ['ws://127.0.0.1:9'], storage: 'memory' });
    const noTracker = await event(unreachable, 'error');
    unreachable.destroy();

    const client = await SeedcastClient.create({ trackers: [tracker], storage: 'memory', noPeersTimeout: 1, stallTimeout: 1 });
    const torrent = client.add(`magnet:?xt=urn:btih:${hash}&dn=nobody`);
    const [noPeers, stalled] = await Promise.all([event(torrent, 'error'), event(torrent, 'stalled')]);
    const stillThere = client.torrents.includes(torrent);

    const conflicts = [];
    for (const storage of ['auto', 'indexeddb', 'memory', 'auto']) {
      try { await SeedcastClient.create({ trackers: [], storage }); conflicts.push('ok'); } catch (e) { conflicts.push(e.message); }
    }
    const badTimeout = await SeedcastClient.create({ noPeersTimeout: -1 }).then(() => 'ok', (e) => e.message);

    const real = window.RTCPeerConnection;
    delete window.RTCPeerConnection;
    const noRtc = await SeedcastClient.create({ trackers: [], storage: 'memory' });
    const webrtc = await event(noRtc, 'error');
    window.RTCPeerConnection = real;
    return { noTracker, noPeers, stalled, stillThere, conflicts, badTimeout, webrtc };
  }, { tracker: env.signal.tracker, hash: randomBytes(20).toString('hex') }));
  assert.equal(result.noTracker.code, 'no-tracker');
  assert.equal(result.noTracker.fatal, false);
  assert.match(result.noTracker.message, /no tracker reachable \(ws:\/\/127\.0\.0\.1:9\)/);
  assert.doesNotMatch(result.noTracker.message, /seedcast-signal/, 'no hint when trackers were given');
  assert.deepEqual([result.noPeers.code, result.noPeers.fatal], ['no-peers', false]);
  assert.match(result.noPeers.message, /no peer found/);
  assert.deepEqual({ ...result.stalled, seconds: undefined }, { seconds: undefined, peers: 0, hasMetadata: false });
  assert.ok(result.stalled.seconds >= 1 && result.stalled.seconds <= 3, `stalled after ${result.stalled.seconds} s (timeout 1 s, looked at every second)`);
  assert.ok(result.stillThere, 'a torrent with no peers carries on');
  assert.equal(result.conflicts[0], 'ok');
  assert.match(result.conflicts[1], /`storage: "indexeddb"` conflicts with this page's storage "auto"/);
  assert.deepEqual(result.conflicts.slice(2), ['ok', 'ok'], 'memory never conflicts; the same store is fine');
  assert.match(result.badTimeout, /`noPeersTimeout` must be a number of seconds/);
  assert.equal(result.webrtc.code, 'webrtc-unavailable');
  await page.context().close();
});

test('a page not served by seedcast-signal: the default tracker is refused with a hint; the worker registers early from its URL', { timeout: 90_000 }, async () => {
  const site = await staticServer(join(ROOT, 'www'));
  servers.push(site);
  const context = await newContext(env.browser);
  const page = await context.newPage();
  await page.goto(`${site.base}/example.html`);
  const result = await within(30_000, 'no answer', page.evaluate(async () => {
    const { SeedcastClient } = await import('/seedcast.js');
    const client = await SeedcastClient.create({ storage: 'memory' });
    const error = await new Promise((res) => client.addEventListener('error', (e) => res(e.detail), { once: true }));
    const missing = await client.serviceWorker('/no-such-sw.js').then(() => 'registered', (e) => e.message);
    const outside = await client.serviceWorker('/pkg/sw.js').then(() => 'registered', (e) => e.message);
    const registration = await client.serviceWorker('/sw.js', '/');
    const same = (await client.serviceWorker()) === registration;
    const other = await client.serviceWorker('/app.js').then(() => 'registered', (e) => e.message);
    return { error, missing, outside, scope: registration.scope, controlled: !!navigator.serviceWorker.controller, same, other };
  }));
  assert.equal(result.error.code, 'no-tracker');
  assert.match(result.error.message, /not a Seedcast tracker \(seedcast-signal\): pass `trackers`/);
  assert.match(result.missing, /cannot register the streaming worker .*no-such-sw\.js/);
  assert.match(result.outside, /outside the streaming worker's scope/);
  assert.equal(result.scope, `${site.base}/`);
  assert.ok(result.controlled, 'the worker controls the page once the promise resolves');
  assert.ok(result.same, 'a later call without URLs gets the same registration');
  assert.match(result.other, /already .*sw\.js/);
  await context.close();
});
