// Share links round-trip: names and tracker URLs with `%`, `&`, `#` and `+` survive the app's
// share link, the embed's iframe link and the player's src exactly (decoded once, by the magnet
// parser); a malformed link is one clear error; base32 and hex links of one torrent are one torrent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { useSignalAndBrowser, newContext, openPage, within, until } from './harness.mjs';

const env = useSignalAndBrowser();
const NAME = '50% off & more #1 +x.bin';
// A tracker nobody listens on: pages given it find peers only through a magnet's own tr=.
const DEAD_TRACKER = 'ws://127.0.0.1:9';

/** Seeds `file` ({ name, buffer }) in the app in a fresh profile; returns the page and its share link. */
async function seedInApp(file) {
  const page = await (await env.browser.newContext()).newPage();
  await page.goto(`${env.signal.base}/`);
  await within(20_000, 'the tracker status never said connected', page.waitForFunction(
    () => document.getElementById('tracker-status').textContent.startsWith('Connected')));
  await page.setInputFiles('#file-input', { mimeType: 'application/octet-stream', ...file });
  const link = await within(30_000, 'no share link appeared', until(() => page.$eval('.share-link', (el) => el.value).catch(() => '')));
  return { page, link };
}

const infoHashOf = (link) => /xt=urn:btih:([0-9a-f]{40})/.exec(link)[1];

/** A WebSocket tracker in front of seedcast-signal that records the request target of every
 *  connection (path and query, exactly as the browser sent them). */
async function recordingTracker() {
  const targets = [];
  const server = createServer((req, res) => { res.writeHead(404); res.end(); });
  server.on('upgrade', (req, socket, head) => {
    targets.push(req.url);
    const upstream = connect(env.signal.port, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return { targets, url: `ws://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

test('a file named "50% off & more #1 +x.bin" opens from its share link with exactly that name', { timeout: 120_000 }, async () => {
  const content = randomBytes(300_000);
  const { page: seeder, link } = await seedInApp({ name: NAME, buffer: content });
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#magnet:\?xt=urn:btih:[0-9a-f]{40}&dn=[^#]*$/);

  const leecher = await (await env.browser.newContext()).newPage();
  await leecher.goto(link);
  await within(60_000, 'the download did not finish', leecher.waitForSelector('a.file-link', { timeout: 0 }));
  assert.equal(await leecher.$eval('.torrent .name', (el) => el.textContent), NAME);
  assert.equal(await leecher.$eval('a.file-link', (a) => a.download), NAME);
  assert.equal(await leecher.$eval('#errors', (el) => el.textContent), '');
  // The leecher's own share link is the same link: it round-trips again.
  assert.equal(await leecher.$eval('.share-link', (el) => el.value), link);
  await seeder.context().close();
  await leecher.context().close();
});

test('a link pasted and submitted while the app still loads is downloaded once it is ready, not lost to a reload', { timeout: 120_000 }, async () => {
  const content = randomBytes(100_000);
  const { page: seeder, link } = await seedInApp({ name: 'early.bin', buffer: content });
  const context = await env.browser.newContext();
  let releaseWasm;
  const wasmHeld = new Promise((resolve) => { releaseWasm = resolve; });
  await context.route('**/seedcast_bg.wasm', async (route) => { await wasmHeld; await route.continue(); });
  const leecher = await context.newPage();
  await leecher.goto(`${env.signal.base}/`);
  await leecher.fill('#magnet-input', link);
  await leecher.press('#magnet-input', 'Enter');
  await leecher.waitForTimeout(200);
  assert.equal(new URL(leecher.url()).search, '', 'the form did not navigate');
  releaseWasm();
  await within(60_000, 'the download did not finish', leecher.waitForSelector('a.file-link', { timeout: 0 }));
  assert.equal(await leecher.$eval('.torrent .name', (el) => el.textContent), 'early.bin');
  assert.equal(await leecher.$$eval('.torrent', (t) => t.length), 1, 'added once');
  await seeder.context().close();
  await context.close();
});

test('a malformed link shows one clear error and the rest of the page (stored downloads) still renders', { timeout: 120_000 }, async () => {
  const { page: seeder, link } = await seedInApp({ name: 'kept.bin', buffer: randomBytes(100_000) });
  const context = await env.browser.newContext();
  const first = await context.newPage();
  await first.goto(link);
  await within(60_000, 'the download did not finish', first.waitForSelector('a.file-link', { timeout: 0 }));
  await within(20_000, 'the download was not listed as stored', first.waitForSelector('#stored li', { timeout: 0 }));
  await first.close();

  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${env.signal.base}/#magnet:?xt=urn:btih:${infoHashOf(link)}&dn=50%.mp4`);
  const shown = await within(20_000, 'no error was shown for the malformed link', until(() => page.$$eval('#errors p', (ps) => ps.map((p) => p.textContent)).then((t) => t.length && t)));
  assert.equal(shown.length, 1);
  assert.match(shown[0], /^That link does not work: .*%-escape[^\n]*$/);
  await within(20_000, 'the stored list did not render', page.waitForSelector('#stored li', { timeout: 0 }));
  assert.equal(await page.$eval('#stored li a', (a) => a.textContent), 'kept.bin');
  assert.deepEqual(errors, []);
  await seeder.context().close();
  await context.close();
});

test('a tracker URL holding &, % and # in tr= reaches the tracker exactly, from the app, the player and the embed', { timeout: 180_000 }, async () => {
  const tracker = await recordingTracker();
  const target = '/announce?a=1&b=50%25&c=%23x';
  const { page: seeder, link } = await seedInApp({ name: 'tracked.mp4', buffer: randomBytes(200_000) });
  const magnet = `magnet:?xt=urn:btih:${infoHashOf(link)}&dn=${encodeURIComponent(NAME)}&tr=${encodeURIComponent(tracker.url + target)}`;
  const seen = (what) => {
    assert.ok(tracker.targets.length > 0, `${what}: the tr= tracker was never contacted`);
    assert.deepEqual(new Set(tracker.targets), new Set([target]), `${what}: the tracker URL arrived changed`);
  };

  // The app: its own tracker is dead, so only the link's tr= finds the seeder.
  const app = await (await env.browser.newContext()).newPage();
  await app.goto(`${env.signal.base}/?tracker=${encodeURIComponent(DEAD_TRACKER)}#${magnet}`);
  await within(60_000, 'the app did not download through the tr= tracker', app.waitForSelector('a.file-link', { timeout: 0 }));
  seen('app');

  // The player, on the Seedcast origin.
  const playerPage = await openPage(await newContext(env.browser), env.signal.base);
  await playerPage.evaluate(async ({ magnet, dead }) => {
    await import('/player.js');
    const player = document.createElement('seedcast-player');
    player.setAttribute('trackers', dead);
    player.setAttribute('src', magnet);
    document.body.append(player);
  }, { magnet, dead: DEAD_TRACKER });
  await within(60_000, 'the player did not download through the tr= tracker', until(() => playerPage.$eval('seedcast-player', (p) => p.shadowRoot.querySelector('.status').textContent.endsWith(' · downloaded'))));
  seen('player');

  // The embed: a page of another origin with embed.js, so the magnet travels in embed.html's fragment.
  const blog = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><title>blog</title>
      <script src="${env.signal.base}/embed.js"></script>
      <seedcast-player muted trackers="${DEAD_TRACKER}" src="${magnet.replaceAll('&', '&amp;')}"></seedcast-player>`);
  });
  await new Promise((res) => blog.listen(0, '127.0.0.2', res));
  const embedPage = await (await newContext(env.browser)).newPage();
  await embedPage.goto(`http://127.0.0.2:${blog.address().port}/`);
  const frame = await within(20_000, 'no player iframe appeared', until(() => embedPage.frames().find((f) => f.url().startsWith(`${env.signal.base}/embed.html`))));
  await within(60_000, 'the embedded player did not download through the tr= tracker', until(() => frame.evaluate(
    () => document.querySelector('seedcast-player')?.shadowRoot.querySelector('.status').textContent.endsWith(' · downloaded')).catch(() => false)));
  seen('embed');

  for (const page of [seeder, app, playerPage, embedPage]) await page.context().close();
  blog.close();
  tracker.close();
});

/** RFC 4648 base32 of a hex string, as magnet links write info hashes. */
function base32(hex) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of Buffer.from(hex, 'hex')) bits += byte.toString(2).padStart(8, '0');
  return bits.match(/.{5}/g).map((b) => alphabet[parseInt(b, 2)]).join('');
}

test('players given one torrent by hex and by base32 links share it instead of colliding', { timeout: 120_000 }, async () => {
  const { page: seeder, link } = await seedInApp({ name: 'shared.mp4', buffer: randomBytes(200_000) });
  const hex = infoHashOf(link);
  const srcs = [
    `magnet:?xt=urn:btih:${hex}`,
    `magnet:?xt=urn:btih:${base32(hex)}`,
    `magnet:?xt.1=urn:btih:${base32(hex).toLowerCase()}&dn=shared.mp4`,
  ];
  const page = await openPage(await newContext(env.browser), env.signal.base);
  await page.evaluate(async ({ srcs, tracker }) => {
    await import('/player.js');
    window.players = srcs.map((src) => {
      const player = document.createElement('seedcast-player');
      player.setAttribute('trackers', tracker);
      player.setAttribute('src', src);
      document.body.append(player);
      return player;
    });
  }, { srcs, tracker: env.signal.tracker });
  await within(60_000, 'the players did not all download', until(() => page.evaluate(() => window.players.every(
    (p) => p.shadowRoot.querySelector('.status').textContent.endsWith(' · downloaded') || p.shadowRoot.querySelector('.error').textContent))));
  const state = await page.evaluate(() => ({
    errors: window.players.map((p) => p.shadowRoot.querySelector('.error').textContent),
    hashes: window.players.map((p) => p.torrent?.infoHash),
    one: window.players.every((p) => p.torrent === window.players[0].torrent),
  }));
  assert.deepEqual(state.errors, ['', '', '']);
  assert.deepEqual(state.hashes, [hex, hex, hex]);
  assert.ok(state.one, 'the three players share one torrent');
  await seeder.context().close();
  await page.context().close();
});
