// Streaming while seeding: a video seeded by one page plays in another page's
// <seedcast-player> while it downloads, seeks, and the stream URL answers range requests
// like an HTTP server would. Test videos are generated with ffmpeg at the start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useSignalAndBrowser, newContext, openPage, within, until } from './harness.mjs';

const env = useSignalAndBrowser();
let dir;
const media = {};

/** 640x360 H.264/AAC (faststart or not) or 320x180 VP9/Opus test video, `seconds` long. */
function makeVideo(name, seconds, kind) {
  const path = join(dir, name);
  const sources = ['-f', 'lavfi', '-i', `testsrc2=size=${kind === 'webm' ? '320x180' : '640x360'}:rate=25`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds)];
  const codecs = kind === 'webm'
    ? ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-c:a', 'libopus', '-b:a', '48k']
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '50', '-b:v', '1000k', '-c:a', 'aac', '-b:a', '64k',
      ...(kind === 'faststart' ? ['-movflags', '+faststart'] : [])];
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...sources, ...codecs, path]);
  const bytes = readFileSync(path);
  media[name] = { path, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seedcast-stream-'));
  makeVideo('clip.mp4', 24, 'faststart');
  makeVideo('moov-at-end.mp4', 24, 'plain');
  makeVideo('clip.webm', 10, 'webm');
}, { timeout: 60_000 });
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
}, { timeout: 60_000 });

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A page in its own profile that seeds `names` (fetched from the test), returning magnets. */
async function seeder(names, options = {}) {
  const context = await newContext(env.browser);
  await context.route('**/test-media/*', (route) => route.fulfill({ path: media[decodeURIComponent(route.request().url().split('/').pop())].path }));
  const page = await openPage(context, env.signal.base);
  const magnets = await page.evaluate(async ({ names, options }) => {
    window.client = await window.Seedcast.SeedcastClient.create(options);
    const out = [];
    for (const name of names) {
      const bytes = new Uint8Array(await (await fetch(`/test-media/${encodeURIComponent(name)}`)).arrayBuffer());
      out.push((await window.client.seed(new File([bytes], name))).magnetURI);
    }
    return out;
  }, { names, options });
  return { page, magnets };
}

/** A page in its own profile with one muted <seedcast-player> per magnet, all playing. */
async function viewer(magnets, attrs = {}, { prepare = false } = {}) {
  const page = await openPage(await newContext(env.browser), env.signal.base);
  await page.evaluate(async ({ magnets, attrs, prepare }) => {
    window.seedcastTrace = []; // stream-host.js logs stream opens, chunks and closes here
    await import('/player.js');
    if (prepare) {
      await customElements.get('seedcast-player').prepare({ storage: attrs.storage });
      window.preparedControlled = Boolean(navigator.serviceWorker.controller);
    }
    window.players = magnets.map((src) => {
      const player = document.createElement('seedcast-player');
      player.setAttribute('muted', '');
      player.setAttribute('src', src);
      for (const [name, value] of Object.entries(attrs)) player.setAttribute(name, value);
      player.addEventListener('ready', () => player.video.play().catch((e) => { window.playError = e.message; }));
      document.body.append(player);
      return player;
    });
  }, { magnets, attrs, prepare });
  return page;
}

/** After a seek past what the video buffered: the request made before it was cancelled and
 *  its stream closed (engine window released), and at most two streams stay open. */
async function oldStreamsClosed(page) {
  await within(15_000, 'streams were left open after the seek', until(() => page.evaluate(() => {
    const opened = window.seedcastTrace.filter((l) => l.includes(' open ')).map((l) => l.split(' ')[1]);
    const closed = new Set(window.seedcastTrace.filter((l) => l.endsWith(' closed')).map((l) => l.split(' ')[1]));
    return opened.length >= 2 && closed.has(opened[0]) && opened.filter((id) => !closed.has(id)).length <= 2;
  })));
}

const currentTime = (page, i = 0) => page.evaluate((i) => window.players[i].video?.currentTime ?? 0, i);

async function plays(page, i, what) {
  await within(60_000, `${what} never started playing`, until(async () => (await currentTime(page, i)) > 1));
}

async function seeksTo(page, i, fraction, what) {
  const target = await page.evaluate(({ i, fraction }) => {
    const v = window.players[i].video;
    v.currentTime = v.duration * fraction;
    return v.currentTime;
  }, { i, fraction });
  await within(60_000, `${what} did not play on after seeking to ${fraction * 100}%`,
    until(async () => (await currentTime(page, i)) > target + 1));
  return target;
}

test('an MP4 seeded in one page plays in another, seeks to 75%, and the stream URL answers ranges like HTTP', { timeout: 240_000 }, async () => {
  const file = media['clip.mp4'];
  const length = file.bytes.length;
  const { page: a, magnets } = await seeder(['clip.mp4']);
  const b = await viewer(magnets);
  await plays(b, 0, 'the MP4');
  await seeksTo(b, 0, 0.75, 'the MP4');

  const answers = await b.evaluate(async (length) => {
    const url = window.players[0].video.src;
    const get = async (range, method = 'GET') => {
      const res = await fetch(url, { method, headers: range ? { Range: range } : {} });
      const bytes = new Uint8Array(await res.arrayBuffer());
      return {
        status: res.status, size: bytes.length, sha256: await window.testUtils.sha256(bytes),
        contentRange: res.headers.get('Content-Range'), contentLength: res.headers.get('Content-Length'),
        contentType: res.headers.get('Content-Type'), acceptRanges: res.headers.get('Accept-Ranges'),
      };
    };
    return {
      url,
      probe: await get('bytes=0-1'),
      middle: await get('bytes=1000000-1499999'),
      open: await get(`bytes=${length - 5000}-`),
      suffix: await get('bytes=-100'),
      past: await get(`bytes=${length}-`),
      whole: await get(null),
      head: await get(null, 'HEAD'),
    };
  }, length);
  assert.match(answers.url, /\/seedcast\/stream\/[0-9a-f]{40}\/0\/clip\.mp4$/);
  assert.equal(answers.probe.status, 206);
  assert.equal(answers.probe.size, 2);
  assert.equal(answers.probe.contentRange, `bytes 0-1/${length}`);
  assert.equal(answers.probe.contentLength, '2');
  assert.equal(answers.probe.contentType, 'video/mp4');
  assert.equal(answers.probe.acceptRanges, 'bytes');
  assert.equal(answers.middle.status, 206);
  assert.equal(answers.middle.contentRange, `bytes 1000000-1499999/${length}`);
  assert.equal(answers.middle.sha256, sha256(file.bytes.subarray(1000000, 1500000)), 'a middle range holds the original bytes');
  assert.equal(answers.open.status, 206);
  assert.equal(answers.open.sha256, sha256(file.bytes.subarray(length - 5000)));
  assert.equal(answers.suffix.status, 206);
  assert.equal(answers.suffix.contentRange, `bytes ${length - 100}-${length - 1}/${length}`);
  assert.equal(answers.suffix.sha256, sha256(file.bytes.subarray(length - 100)));
  assert.equal(answers.past.status, 416);
  assert.equal(answers.past.contentRange, `bytes */${length}`);
  assert.equal(answers.whole.status, 200);
  assert.equal(answers.whole.contentLength, String(length));
  assert.equal(answers.whole.sha256, file.sha256, 'the whole file as played is byte-for-byte the original');
  assert.equal(answers.head.status, 200);
  assert.equal(answers.head.contentLength, String(length));
  assert.equal(answers.head.size, 0);

  // The browser stops idle service workers; a restarted one has forgotten the page's request
  // port (sw.js) and asks the page by client.postMessage instead: the URL still answers.
  const cdp = await b.context().newCDPSession(b);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  const again = await b.evaluate(async () => {
    const res = await fetch(window.players[0].video.src, { headers: { Range: 'bytes=1000000-1000999' } });
    return { status: res.status, sha256: await window.testUtils.sha256(new Uint8Array(await res.arrayBuffer())) };
  });
  assert.equal(again.status, 206, 'a restarted worker still serves the stream');
  assert.equal(again.sha256, sha256(file.bytes.subarray(1000000, 1001000)));

  // Keyboard: the player is focusable; k pauses and resumes, → seeks 5 s ahead.
  await b.evaluate(() => window.players[0].focus());
  await b.keyboard.press('k');
  assert.equal(await b.evaluate(() => window.players[0].video.paused), true, 'k pauses');
  await b.keyboard.press('k');
  assert.equal(await b.evaluate(() => window.players[0].video.paused), false, 'k plays again');
  const before = await currentTime(b);
  await b.keyboard.press('ArrowLeft');
  assert.ok(await currentTime(b) < before - 3, '← seeks back 5 s');

  // The player shows peers, speeds and progress as text.
  const status = await b.evaluate(() => window.players[0].shadowRoot.querySelector('[role=status]').textContent);
  assert.match(status, /^clip\.mp4 · \d+ peers? · ↓ [\d.]+ [KMG]?B\/s · ↑ [\d.]+ [KMG]?B\/s · (\d+% )?downloaded$/);

  // The seeding page keeps seeding: it uploaded the whole file to the viewer.
  const uploaded = await a.evaluate(() => window.client.torrents[0].stats().uploaded);
  assert.ok(uploaded >= length, `the seeder uploaded ${uploaded} of ${length} bytes`);
  // (The 416 asked for above is logged by the browser as a failed load.)
  assert.deepEqual([...a.errors, ...b.errors.filter((e) => !/status of 416/.test(e))], []);
  await a.context().close();
  await b.context().close();
});

test('the stream API: chunks are the file\'s bytes, close() ends a read, a 9th stream closes the oldest', { timeout: 60_000 }, async () => {
  const { page, magnets } = await seeder(['clip.webm']);
  const result = await page.evaluate(async () => {
    const torrent = window.client.torrents[0];
    const s = torrent.openStream(0, 10, 109);
    const chunk = await s.next();
    const end = await s.next();
    s.close();
    const streams = Array.from({ length: 9 }, () => torrent.openStream(0, 0));
    const evicted = await streams[0].next().then(() => 'no error', (e) => e.message);
    const newest = (await streams[8].next())?.length;
    for (const x of streams) x.close();
    const bad = (() => { try { torrent.openStream(0, 1e12); return 'no error'; } catch (e) { return e.message; } })();
    return { size: chunk.length, sha256: await window.testUtils.sha256(chunk), end: end === undefined, evicted, newest, bad };
  });
  assert.equal(result.size, 100);
  assert.equal(result.sha256, sha256(media['clip.webm'].bytes.subarray(10, 110)));
  assert.ok(result.end, 'the read after the range ends is undefined');
  assert.match(result.evicted, /closed to make room/);
  assert.ok(result.newest > 0);
  assert.match(result.bad, /past the end of the file/);
  assert.ok(magnets[0].startsWith('magnet:'));
  await page.context().close();
});

test('playback starts while only part of the file has arrived (seeder limited to 150 kB/s), seeks (old stream closed), and the viewer seeds on', { timeout: 180_000 }, async () => {
  const { page: a, magnets } = await seeder(['moov-at-end.mp4'], { uploadLimit: 150_000 });
  const b = await viewer(magnets);
  await plays(b, 0, 'the MP4 with its index at the end');
  const progress = await b.evaluate(() => window.players[0].torrent.stats().progress);
  assert.ok(progress < 0.9, `playing with ${(progress * 100).toFixed(0)}% of the file downloaded`);
  // Seek to 75% while the file is still incomplete.
  const progressAtSeek = await b.evaluate(() => window.players[0].torrent.stats().progress);
  assert.ok(progressAtSeek < 1, 'the file was still incomplete when seeking');
  await seeksTo(b, 0, 0.75, 'the rate-limited MP4');
  await oldStreamsClosed(b);
  // A third page downloads the file; the playing page serves it too (it seeds while playing).
  const c = await openPage(await newContext(env.browser), env.signal.base);
  const digest = await within(90_000, 'the third page did not finish downloading', c.evaluate(async (magnet) => {
    const client = await window.Seedcast.SeedcastClient.create();
    const torrent = client.add(magnet);
    await new Promise((res) => torrent.addEventListener('done', res));
    return window.testUtils.sha256(await torrent.files[0].bytes());
  }, magnets[0]));
  assert.equal(digest, media['moov-at-end.mp4'].sha256);
  const uploaded = await b.evaluate(() => window.players[0].torrent.stats().uploaded);
  assert.ok(uploaded > 256 * 1024, `the playing page uploaded ${uploaded} bytes to the third page`);
  assert.deepEqual([...a.errors, ...b.errors, ...c.errors], []);
  await a.context().close();
  await b.context().close();
  await c.context().close();
});

test('two players on one page (storage="memory", prepared ahead): a WebM and a non-faststart MP4 both play', { timeout: 180_000 }, async () => {
  const { page: a, magnets } = await seeder(['clip.webm', 'moov-at-end.mp4']);
  const b = await viewer(magnets, { storage: 'memory' }, { prepare: true });
  assert.equal(await b.evaluate(() => window.preparedControlled), true, 'prepare() leaves the service worker controlling the page');
  await plays(b, 0, 'the WebM');
  assert.deepEqual(await b.evaluate(() => window.players.map((p) => p.torrent.stats().storage)), ['memory', 'memory']);
  await plays(b, 1, 'the second player (MP4)');
  await seeksTo(b, 1, 0.75, 'the non-faststart MP4');
  assert.equal(await b.evaluate(() => window.players[0].shadowRoot.querySelector('video').currentSrc.endsWith('/clip.webm')), true);
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.context().close();
  await b.context().close();
});

test('a torrent of several files: the player plays its video, not file 0, and closes the stream its early guess opened', { timeout: 180_000 }, async () => {
  const context = await newContext(env.browser);
  await context.route('**/test-media/*', (route) => route.fulfill({ path: media[decodeURIComponent(route.request().url().split('/').pop())].path }));
  const a = await openPage(context, env.signal.base);
  // The same two files make the same torrent each time (the info dictionary has no date).
  const seed = () => a.evaluate(async () => {
    window.client = await window.Seedcast.SeedcastClient.create();
    const video = new Uint8Array(await (await fetch('/test-media/clip.mp4')).arrayBuffer());
    const notes = new File(['notes that come before the video\n'.repeat(100)], 'a-notes.txt');
    const torrent = await window.client.seed([notes, new File([video], 'clip.mp4')]);
    return { magnet: torrent.magnetURI, infoHash: torrent.infoHash };
  });
  const { magnet, infoHash } = await seed();
  await a.evaluate(() => window.client.destroy());
  // No peer yet: the prepared player's <video> asks for its guess, file 0 (the notes), and
  // the page holds that request until the metadata, which only the seeder below brings.
  const b = await viewer([magnet], {}, { prepare: true });
  await within(30_000, 'the <video> never asked for its early guess, file 0', until(() => b.evaluate(() => window.seedcastTrace.some((l) => / request 0$/.test(l)))));
  assert.equal((await seed()).infoHash, infoHash);
  await plays(b, 0, 'the video of the two-file torrent');
  assert.deepEqual(await b.evaluate(() => [window.players[0].file.index, window.players[0].file.name]), [1, 'clip.mp4']);
  // The page opened the early request's range once the metadata came; the service worker
  // closed it when the <video> moved to file 1.
  await within(15_000, 'the stream opened for the early guess (file 0) was never closed', until(() => b.evaluate(() => {
    const early = new Set(window.seedcastTrace.filter((l) => / request 0$/.test(l)).map((l) => l.split(' ')[1]));
    const opened = window.seedcastTrace.filter((l) => l.includes(' open ')).map((l) => l.split(' ')[1]).filter((id) => early.has(id));
    const closed = new Set(window.seedcastTrace.filter((l) => l.endsWith(' closed')).map((l) => l.split(' ')[1]));
    return opened.length > 0 && opened.every((id) => closed.has(id));
  })));
  assert.deepEqual([...a.errors, ...b.errors], []);
  await context.close();
  await b.context().close();
});

test('the demo app: a video published in one tab plays from the share link in another', { timeout: 180_000 }, async () => {
  const publisher = await (await env.browser.newContext()).newPage();
  await publisher.goto(`${env.signal.base}/`);
  await publisher.setInputFiles('#file-input', media['clip.mp4'].path);
  const link = await within(30_000, 'no share link appeared', until(() => publisher.$eval('.share-link', (el) => el.value).catch(() => '')));
  const viewerPage = await (await env.browser.newContext()).newPage();
  const errors = [];
  viewerPage.on('pageerror', (e) => errors.push(e.message));
  await viewerPage.goto(link);
  await within(30_000, 'no player appeared for the video', viewerPage.waitForSelector('.torrent seedcast-player', { timeout: 0 }));
  await viewerPage.$eval('.torrent seedcast-player', (p) => { p.video.muted = true; p.video.autoplay = true; if (p.video.src) p.video.play(); });
  await within(60_000, 'the video did not play in the viewer tab', until(() => viewerPage.$eval('.torrent seedcast-player', (p) => p.video.currentTime > 1)));
  assert.equal(await viewerPage.$eval('.torrent .name', (el) => el.textContent), 'clip.mp4');
  assert.deepEqual(errors, []);
  await publisher.context().close();
  await viewerPage.context().close();
});

test('the app\'s embed code, pasted into a page of another origin, plays the video there (one classic script tag, iframe)', { timeout: 180_000 }, async () => {
  // The publisher shares a video in the app and copies its embed code.
  const publisher = await (await newContext(env.browser)).newPage();
  await publisher.goto(`${env.signal.base}/`);
  await publisher.setInputFiles('#file-input', media['clip.webm'].path);
  const snippet = await within(30_000, 'no embed code appeared', until(() => publisher.$eval('.torrent .embed-code', (el) => el.value).catch(() => '')));
  assert.match(snippet, /^<script src="http:\/\/127\.0\.0\.1:\d+\/embed\.js" async><\/script>\n<seedcast-player src="magnet:\?[^"<]+"><\/seedcast-player>$/);
  const a = publisher;
  const context = await newContext(env.browser);
  // A blog on 127.0.0.2: another origin (and site) than the Seedcast server on 127.0.0.1,
  // with the snippet pasted as it is.
  const blog = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><title>blog</title><p>My clip:</p>\n${snippet}`);
  });
  await new Promise((res) => blog.listen(0, '127.0.0.2', res));
  const host = `http://127.0.0.2:${blog.address().port}`;
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${host}/blog.html`);
  const frame = await within(20_000, 'no player iframe appeared', until(() => {
    if (page.isClosed()) throw new Error('page closed');
    return page.frames().find((f) => f.url().startsWith(`${env.signal.base}/embed.html`));
  })).catch((e) => { throw new Error(`${e.message}; frames: ${page.frames().map((f) => f.url())}; errors: ${errors}`); });
  // The viewer presses play (muted: no user gesture in a headless test).
  await within(60_000, 'the embedded player did not play', until(() => {
    if (page.isClosed()) throw new Error('page closed');
    return frame.evaluate(() => {
      const video = document.querySelector('seedcast-player')?.video;
      if (video?.src && video.paused) { video.muted = true; video.play().catch(() => {}); }
      return video?.currentTime > 1;
    }).catch(() => false);
  }));
  assert.deepEqual(errors, []);
  await a.context().close();
  await context.close();
  blog.close();
});
