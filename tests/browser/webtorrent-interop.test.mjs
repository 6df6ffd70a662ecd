// Interop with the real WebTorrent browser build from npm, both directions, through
// seedcast-signal: metadata by ut_metadata from a magnet link, then the content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useSignalAndBrowser, newContext, openPage, within } from './harness.mjs';

const SIZE = 8 * 1024 * 1024;
const env = useSignalAndBrowser();

/** A page with WebTorrent's browser build loaded as `window.WebTorrent`. */
async function webTorrentPage() {
  const page = await (await newContext(env.browser)).newPage();
  await page.goto(`${env.signal.base}/example.html`);
  await page.evaluate(async () => { window.WebTorrent = (await import('/webtorrent.min.js')).default; });
  return page;
}

test('seedcast downloads from a WebTorrent seeder, metadata included', { timeout: 180_000 }, async () => {
  const wt = await webTorrentPage();
  const { magnet, digest } = await wt.evaluate(async ({ tracker, size }) => {
    const content = window.testUtils.makeContent(size);
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    const torrent = await new Promise((res) => client.seed(new File([content], 'from-webtorrent.bin'), { announce: [tracker] }, res));
    return { magnet: torrent.magnetURI, digest: await window.testUtils.sha256(content) };
  }, { tracker: env.signal.tracker, size: SIZE });

  const sc = await openPage(await newContext(env.browser), env.signal.base);
  const got = await within(90_000, 'seedcast did not finish downloading from WebTorrent', sc.evaluate(async ({ magnet, tracker }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = client.add(magnet);
    let metadataBeforeDone = false;
    torrent.addEventListener('metadata', () => { metadataBeforeDone = !torrent.stats().done; });
    await new Promise((res) => torrent.addEventListener('done', res));
    const [file] = torrent.files;
    return { metadataBeforeDone, name: file.name, length: file.length, digest: await window.testUtils.sha256(await file.bytes()) };
  }, { magnet, tracker: env.signal.tracker }));
  assert.ok(got.metadataBeforeDone, 'metadata arrives (from the magnet link) before the content');
  assert.equal(got.name, 'from-webtorrent.bin');
  assert.equal(got.length, SIZE);
  assert.equal(got.digest, digest);
  await wt.context().close();
  await sc.context().close();
});

test('WebTorrent downloads from a seedcast seeder', { timeout: 180_000 }, async () => {
  const sc = await openPage(await newContext(env.browser), env.signal.base);
  const { magnet, digest } = await sc.evaluate(async ({ tracker, size }) => {
    const content = window.testUtils.makeContent(size);
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = await client.seed(new File([content], 'from-seedcast.bin'));
    return { magnet: torrent.magnetURI, digest: await window.testUtils.sha256(content) };
  }, { tracker: env.signal.tracker, size: SIZE });

  const wt = await webTorrentPage();
  const got = await within(90_000, 'WebTorrent did not finish downloading from seedcast', wt.evaluate(async ({ magnet, tracker }) => {
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    const torrent = client.add(magnet, { announce: [tracker] });
    await new Promise((res, rej) => { torrent.on('done', res); torrent.on('error', rej); });
    const file = torrent.files[0];
    return { name: file.name, digest: await window.testUtils.sha256(await file.arrayBuffer()) };
  }, { magnet, tracker: env.signal.tracker }));
  assert.equal(got.name, 'from-seedcast.bin');
  assert.equal(got.digest, digest);
  await wt.context().close();
  await sc.context().close();
});
