// Trackers are trusted only with the torrents announced on them, and live only as long as a
// torrent uses them; torrents whose pieces a tab cannot hold are refused with a clear error.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { useSignalAndBrowser, newContext, openPage, within, until } from './harness.mjs';

const env = useSignalAndBrowser();

/** A scripted WebSocket tracker on loopback: records what pages send and lets the test
 *  send them anything (as a hostile tracker would). */
async function fakeTracker() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((res) => server.once('listening', res));
  const t = { url: `ws://127.0.0.1:${server.address().port}`, sockets: [], messages: [], log: [] };
  server.on('connection', (ws) => {
    const n = t.sockets.push(ws);
    t.log.push(`open ${n}`);
    ws.on('message', (data) => {
      const message = JSON.parse(String(data));
      t.messages.push(message);
      if (message.event) t.log.push(`${message.event} ${hexOf(message.info_hash)}`);
    });
    ws.on('close', () => t.log.push(`close ${n}`));
  });
  t.close = () => new Promise((res) => { for (const ws of server.clients) ws.terminate(); server.close(res); });
  return t;
}

const fakes = [];
after(async () => { for (const f of fakes) await f.close(); });

/** Info hashes travel as "binary strings" (one character per byte). */
const binary = (hex) => String.fromCharCode(...Buffer.from(hex, 'hex'));
const hexOf = (text) => Buffer.from([...text].map((c) => c.charCodeAt(0))).toString('hex');
/** 20 printable ASCII characters, as ids travel. */
const asciiId = () => randomBytes(20).toString('base64').slice(0, 20);
const magnet = (hex, tracker) => `magnet:?xt=urn:btih:${hex}&dn=test&tr=${encodeURIComponent(tracker)}`;

/** A page with a Seedcast client that has no trackers of its own; events are recorded. */
async function clientPage() {
  const page = await openPage(await newContext(env.browser), env.signal.base);
  page.debug = [];
  page.on('console', (m) => { if (m.type() === 'debug') page.debug.push(m.text()); });
  await page.evaluate(async () => {
    window.client = await window.Seedcast.SeedcastClient.create({ trackers: [], storage: 'memory' });
    window.events = [];
    window.add = (source) => {
      const torrent = window.client.add(source);
      for (const type of ['warning', 'error', 'metadata', 'peer']) {
        torrent.addEventListener(type, (e) => window.events.push({ infoHash: torrent.infoHash, type, detail: e.detail }));
      }
      return torrent.infoHash;
    };
  });
  return page;
}

test('a tracker gets no answer and no warning in for a torrent that is not announced on it', { timeout: 120_000 }, async () => {
  const hostile = await fakeTracker();
  fakes.push(hostile);
  const page = await clientPage();
  const [a, b] = [randomBytes(20).toString('hex'), randomBytes(20).toString('hex')];
  await page.evaluate(({ first, second }) => { window.add(first); window.add(second); },
    { first: magnet(a, env.signal.tracker), second: magnet(b, hostile.url) });

  // The hostile tracker hears only about B, with offers carrying real SDP it can replay.
  const announce = await within(20_000, 'torrent B never announced on its tracker',
    until(() => hostile.messages.find((m) => m.offers?.length)));
  assert.equal(hexOf(announce.info_hash), b);
  assert.ok(!hostile.messages.some((m) => m.info_hash === binary(a)), 'A is never announced on B\'s tracker');
  const sdp = announce.offers[0].offer.sdp;
  const ws = hostile.sockets[0];
  const offer = (infoHash, offerId) => JSON.stringify({
    action: 'announce', info_hash: binary(infoHash), peer_id: asciiId(), offer_id: offerId, offer: { type: 'offer', sdp },
  });

  // Probes for A: an offer (which would get an answer, so a connection and our address)
  // and a failure message (which would show on A). Then an offer for B, answered normally:
  // once its answer is back, the probes were long handled.
  const probe = asciiId();
  const control = asciiId();
  ws.send(offer(a, probe));
  ws.send(JSON.stringify({ 'failure reason': 'probe', info_hash: binary(a) }));
  ws.send(offer(b, control));
  await within(20_000, 'the offer for B (its own torrent) was not answered',
    until(() => hostile.messages.find((m) => m.answer && m.offer_id === control)));
  // The probe's fate: answered (it would come about when the control's did), or ignored
  // and logged at debug level.
  const ignored = (line) => /ignored an offer relayed by ws:\/\/127\.0\.0\.1:\d+.*not announced on that tracker/.test(line);
  await within(10_000, 'the offer for A was neither answered nor logged as ignored', until(() =>
    hostile.messages.some((m) => m.answer && m.offer_id === probe) || page.debug.some(ignored)));

  assert.equal(hostile.messages.filter((m) => m.answer && m.offer_id === probe).length, 0, 'the offer for A got no answer');
  assert.ok(hostile.messages.every((m) => m.info_hash !== binary(a)), 'nothing about A reached the hostile tracker');
  const events = await page.evaluate(() => window.events);
  assert.deepEqual(events.filter((e) => e.infoHash === a && e.type === 'warning'), [], 'the hostile tracker cannot post on A');
  await page.context().close();
});

test('removing the last torrent that uses a tracker closes its socket for good', { timeout: 120_000 }, async () => {
  const tracker = await fakeTracker();
  fakes.push(tracker);
  const page = await clientPage();
  const [first, second] = [randomBytes(20).toString('hex'), randomBytes(20).toString('hex')];
  await page.evaluate(({ m1, m2 }) => { window.first = window.add(m1); window.second = window.add(m2); },
    { m1: magnet(first, tracker.url), m2: magnet(second, tracker.url) });
  await within(20_000, 'both torrents did not announce on the tracker', until(() =>
    tracker.log.includes(`started ${first}`) && tracker.log.includes(`started ${second}`)));

  // One socket serves both; removing one torrent keeps it for the other.
  await page.evaluate(() => window.client.torrents.find((t) => t.infoHash === window.first).remove());
  await within(10_000, 'no stopped for the first torrent', until(() => tracker.log.includes(`stopped ${first}`)));
  await page.evaluate(() => window.client.torrents.find((t) => t.infoHash === window.second).remove());
  await within(10_000, 'the tracker socket was not closed when its last torrent went',
    until(() => tracker.log.includes('close 1')));
  assert.deepEqual(tracker.log.filter((l) => !l.startsWith('started')),
    ['open 1', `stopped ${first}`, `stopped ${second}`, 'close 1'],
    'one socket, open until the last torrent using it stopped');

  // No reconnect: the client's first retry would come within 1.25 s (1 s backoff, ±25 %
  // jitter, 250 ms timer); a reconnecting client shows up well inside this window.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(tracker.sockets.length, 1, 'the client did not reconnect to a tracker nobody uses');
  await page.context().close();
});

/** A .torrent (bencoded) of one 1 KiB file cut into pieces of `pieceLength` bytes. */
function torrentFile(pieceLength) {
  const parts = ['d8:announce', `${env.signal.tracker.length}:${env.signal.tracker}`, '4:infod',
    '6:lengthi1024e', '4:name9:large.bin', `12:piece lengthi${pieceLength}e`, '6:pieces20:'];
  return Buffer.concat([Buffer.from(parts.join('')), randomBytes(20), Buffer.from('ee')]);
}

test('a .torrent whose pieces are too large for a tab is refused with a clear error', { timeout: 60_000 }, async () => {
  const page = await clientPage();
  const result = await page.evaluate(({ big, fine }) => {
    const out = {};
    try { window.add(new Uint8Array(big)); out.big = 'added'; } catch (e) { out.big = e.message; }
    out.fine = window.add(new Uint8Array(fine)).length;
    out.torrents = window.client.torrents.length;
    return out;
  }, { big: [...torrentFile(32 * 1024 * 1024)], fine: [...torrentFile(16 * 1024 * 1024)] });
  assert.equal(result.big, 'cannot add this torrent: pieces of 32 MiB are too large for a browser tab (at most 16 MiB)');
  assert.equal(result.fine, 40, '16 MiB pieces are still accepted');
  assert.equal(result.torrents, 1);
  await page.context().close();
});

test('a magnet whose metadata turns out to have too large pieces stops with an error event', { timeout: 120_000 }, async () => {
  const wt = await (await newContext(env.browser)).newPage();
  await wt.goto(`${env.signal.base}/example.html`);
  const seeded = await wt.evaluate(async ({ tracker }) => {
    window.WebTorrent = (await import('/webtorrent.min.js')).default;
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    const file = new File([window.testUtils.makeContent(64 * 1024)], 'large-pieces.bin');
    const torrent = await new Promise((res) => client.seed(file, { announce: [tracker], pieceLength: 32 * 1024 * 1024 }, res));
    return { magnet: torrent.magnetURI, pieceLength: torrent.pieceLength };
  }, { tracker: env.signal.tracker });
  assert.equal(seeded.pieceLength, 32 * 1024 * 1024);

  const page = await clientPage();
  const infoHash = await page.evaluate((m) => window.add(m), seeded.magnet);
  const error = await within(60_000, 'no error event after the metadata arrived',
    until(() => page.evaluate(() => window.events.find((e) => e.type === 'error'))));
  assert.equal(error.infoHash, infoHash);
  assert.equal(error.detail.message, 'torrent stopped: pieces of 32 MiB are too large for a browser tab (at most 16 MiB)');
  const after = await page.evaluate(() => ({
    types: window.events.map((e) => e.type), torrents: window.client.torrents.length,
  }));
  assert.ok(!after.types.includes('metadata'), 'the page never got metadata it cannot use');
  assert.equal(after.torrents, 0, 'the stopped torrent is gone from the client');
  await within(10_000, 'the stopped torrent kept its connections',
    until(() => page.evaluate(() => window.Seedcast.SeedcastClient.liveConnections() === 0)));
  await wt.context().close();
  await page.context().close();
});

test('once offersReady() resolves, add() hands the announce with its offers to the tracker before it returns', { timeout: 120_000 }, async () => {
  const tracker = await fakeTracker();
  fakes.push(tracker);
  const page = await openPage(await newContext(env.browser), env.signal.base);
  const hex = randomBytes(20).toString('hex');
  const sent = await page.evaluate(async ({ url, link }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [url], storage: 'memory' });
    await new Promise((res) => client.addEventListener('tracker', (e) => { if (e.detail.connected) res(); }));
    await client.offersReady();
    // What reaches any WebSocket while add() runs, and nothing after.
    const during = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) { during.push(String(data)); return send.call(this, data); };
    try {
      client.add(link);
    } finally {
      WebSocket.prototype.send = send;
    }
    return during.map((d) => JSON.parse(d));
  }, { url: tracker.url, link: `magnet:?xt=urn:btih:${hex}&dn=ready` });
  const announce = sent.find((m) => m.action === 'announce' && hexOf(m.info_hash) === hex);
  assert.ok(announce, `add() returned before announcing (sent meanwhile: ${JSON.stringify(sent).slice(0, 200)})`);
  assert.equal(announce.offers.length, 5, 'the announce carries the five spare offers');
  assert.ok(announce.offers.every((o) => /a=candidate/.test(o.offer.sdp)), 'each offer is complete (gathered candidates)');
  // The tracker gets it as sent.
  await within(10_000, 'the tracker never got the announce', until(() => tracker.messages.some((m) => m.offers?.length === 5)));
  await page.context().close();
});
