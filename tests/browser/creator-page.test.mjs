// A creator's page end to end, in real headless Chromium against a real EVM node (anvil, chain
// id 199) with the TipJar deployed and the injected test wallet: a creator publishes a video from
// the demo app ("Publish as creator": creator record and channel, both wallet-signed, uploaded
// to seedcast-signal's SQLite store), a fan opens the page link in another profile on a phone-
// sized screen, plays the work peer to peer and tips it 1.5 BTT with the keyboard; the creator
// gets exactly that and the page shows it per work from the TipJar's logs. A manifest altered in
// the server's database is shown as not verifying (nothing from it shown), a missing channel,
// an unreachable channel server and an unreachable chain RPC each have their state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startSignal, launchBrowser, newContext, within, until } from './harness.mjs';
import { installTestWallet } from './test-wallet.mjs';
import { startAnvil } from '../interop/anvil.mjs';

const WEI_PER_BTT = 10n ** 18n;
const EXPLORER = 'https://explorer.example';
const NAME = 'Ada <b>Lovelace</b>';
const TITLE = 'First light';
const PHONE = { width: 390, height: 844 };

let dir;
let anvil;
let signal;
let browser;
let signalArgs;
let video;
let creator;
let fan;
let published; // { url, page }

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seedcast-creator-page-'));
  anvil = await startAnvil({ chainId: 199 });
  [, fan, creator] = anvil.accounts;
  const keyFile = join(dir, 'deployer.key');
  writeFileSync(keyFile, `${anvil.accounts[0].privateKey}\n`, { mode: 0o600 });
  const deploy = spawnSync('node', [join(ROOT, 'scripts/deploy-tipjar.mjs'), '--rpc', anvil.url, '--key-file', keyFile, '--chain-id', '199'], { encoding: 'utf8' });
  assert.equal(deploy.status, 0, deploy.stderr);
  const tipJar = deploy.stdout.trim().split('\n').pop().trim();
  const chainFile = join(dir, 'chain.json');
  writeFileSync(chainFile, JSON.stringify({ id: 199, name: 'Local BTTC', rpcUrls: [anvil.url], explorer: EXPLORER, tipJar }));
  mkdirSync(join(dir, 'data'));
  signalArgs = ['--chain', chainFile, '--data', join(dir, 'data')];
  signal = await startSignal({ args: signalArgs });
  browser = await launchBrowser();
  // 12 s of 320x180 H.264 (faststart): plays while it downloads.
  video = join(dir, 'first-light.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '12', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '50', '-b:v', '500k', '-c:a', 'aac', '-b:a', '64k', '-movflags', '+faststart', video]);
}, { timeout: 120_000 });
after(async () => {
  await browser?.close();
  await signal?.stop();
  await anvil?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, { timeout: 60_000 });

const balance = async (address) => BigInt(await anvil.rpc('eth_getBalance', [address, 'latest']));

/** A page in a fresh profile (the test wallet as `account`, unless null), errors collected. */
async function profilePage(account, { viewport } = {}) {
  const context = await newContext(browser);
  if (account) await installTestWallet(context, anvil, { account, chainId: '0xc7' });
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

/** Waits until the page's <seedcast-player> has played past `seconds` (muted, so no autoplay
 *  policy can hold it back). */
async function plays(page, seconds = 1) {
  await within(90_000, 'the work did not play', until(() => page.$eval('seedcast-player', (p, seconds) => {
    const v = p.video;
    if (!v?.src) return false;
    if (v.paused) { v.muted = true; v.play().catch((e) => { window.playError = e.message; }); }
    return v.currentTime > seconds;
  }, seconds).catch(() => false))).catch(async (e) => {
    const why = await page.$eval('seedcast-player', (p) => [...p.shadowRoot.querySelectorAll('.status, .error')].map((el) => el.textContent).join(' | ')
      + ` (src ${p.video?.src}, ready ${p.video?.readyState}, network ${p.video?.networkState}, error ${p.video?.error?.message}, controller ${!!navigator.serviceWorker.controller}, paused ${p.video?.paused}, time ${p.video?.currentTime}, duration ${p.video?.duration}, ended ${p.video?.ended}, play error ${window.playError})`).catch((x) => x.message);
    throw new Error(`${e.message}: ${why}; page errors: ${page.errors.join(' | ')}`);
  });
}

test('publishing from the app as a creator: the wallet signs the record and the channel; the page link is shown', { timeout: 120_000 }, async () => {
  const page = await profilePage(creator.address);
  await page.goto(`${signal.base}/`);
  await page.waitForSelector('#publish-wallets > *');
  assert.equal(await page.$eval('#publish .chain-name', (el) => el.textContent), 'Local BTTC');
  await page.fill('#publish-name', NAME);
  await page.setInputFiles('#publish-file', video);
  assert.equal(await page.inputValue('#publish-title'), 'first-light', 'the title starts from the file name');
  await page.fill('#publish-title', TITLE);
  await page.click('#publish-button');
  await within(90_000, 'no page link appeared', page.waitForSelector('#publish-result:not([hidden])', { timeout: 0 }))
    .catch(async (e) => { throw new Error(`${e.message}: ${await page.$eval('#publish-status', (el) => el.textContent)}`); });
  const url = await page.inputValue('#publish-link');
  assert.equal(url, `${signal.base}/@${creator.address}`);
  assert.equal(await page.$eval('#publish-open', (a) => a.href), url);
  const signed = await page.evaluate(() => window.testWallet.log.filter((r) => r.method === 'eth_signTypedData_v4').length);
  assert.equal(signed, 2, 'the wallet signed the creator record and the channel');
  // The app seeds the new torrent (with its creator line).
  assert.equal(await page.$eval('.torrent .creator-name', (el) => el.textContent), NAME);
  const served = await (await fetch(`${signal.base}/api/channels/${creator.address}`)).json();
  assert.equal(served.works.length, 1);
  assert.equal(served.works[0].title, TITLE);
  assert.match(served.works[0].poster, /^data:image\/jpeg;base64,/, 'a poster made from the video');
  assert.deepEqual(page.errors, []);
  published = { url, page };
});

test('declining in the wallet publishes nothing and says so', { timeout: 60_000 }, async () => {
  const page = await profilePage(anvil.accounts[4].address);
  await page.goto(`${signal.base}/`);
  await page.evaluate(() => window.testWallet.reject.add('eth_signTypedData_v4'));
  await page.waitForSelector('#publish-wallets > *');
  await page.fill('#publish-name', 'Eve');
  await page.setInputFiles('#publish-file', video);
  await page.click('#publish-button');
  await within(30_000, 'no refusal shown', page.waitForFunction(() => document.getElementById('publish-status').classList.contains('bad'), null, { timeout: 0 }));
  assert.equal(await page.$eval('#publish-status', (el) => el.textContent), 'Could not publish: Declined in your wallet: nothing was sent or signed.');
  assert.ok(await page.$eval('#publish-result', (el) => el.hidden), 'no page link');
  assert.equal((await fetch(`${signal.base}/api/channels/${anvil.accounts[4].address}`)).status, 404, 'no channel uploaded');
  await page.context().close();
});

test('the creator page on a phone: name, verified address, the work plays, a 1.5 BTT tip shows up on it', { timeout: 240_000 }, async () => {
  assert.ok(published, 'published first');
  const page = await profilePage(fan.address, { viewport: PHONE });
  await page.goto(published.url);
  await within(30_000, 'no works grid', page.waitForSelector('.works .work', { timeout: 0 }));
  assert.equal(await page.$eval('#channel-name', (el) => el.textContent), NAME, 'the name, as text');
  assert.equal(await page.$$eval('#channel-name *', (els) => els.length), 0, 'no element made from the name');
  const address = await page.$eval('#channel-address a', (a) => ({ text: a.textContent, href: a.href }));
  assert.deepEqual(address, { text: creator.address, href: `${EXPLORER}/address/${creator.address}` });
  const card = await page.$eval('.work', (li) => ({
    title: li.querySelector('.work-title').textContent,
    poster: li.querySelector('.poster img')?.src ?? '',
    date: li.querySelector('.work-date').dateTime,
    cards: document.querySelectorAll('.work').length,
  }));
  assert.equal(card.cards, 1);
  assert.equal(card.title, TITLE);
  assert.match(card.poster, /^data:image\/jpeg;base64,/);
  assert.ok(Math.abs(Date.parse(card.date) - Date.now()) < 10 * 60_000, `published just now: ${card.date}`);
  await within(30_000, 'no tip count', until(() => page.$eval('.work .tips-summary', (el) => el.textContent === 'No tips yet')));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 390 px (${overflow} px too wide)`);

  // Keyboard: the work is a button; Enter plays it, and the player gets the focus.
  await page.focus('.work .work-play');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#now-playing:not([hidden]) seedcast-player');
  assert.ok(await page.evaluate(() => document.activeElement?.tagName === 'SEEDCAST-PLAYER'), 'focus on the player');
  assert.equal(await page.$eval('#now-title', (el) => el.textContent), TITLE);
  await plays(page);
  assert.equal(await page.$eval('seedcast-player', (p) => p.torrent.creator?.address), creator.address);
  const seeding = await page.$eval('seedcast-player', (p) => p.torrent.stats().hasMetadata);
  assert.ok(seeding, 'the work is in the page (it seeds what it downloaded)');

  // Tip with the keyboard: 1.5 BTT and a message.
  assert.equal(await page.$$eval('.work .work-note.warning', (n) => n.length), 0, 'no warning: the work names the channel\'s creator');
  await page.focus('.work .tip-button');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.tip-dialog[open]');
  await page.waitForSelector('.tip-dialog .tip-wallets > *');
  assert.match(await page.$eval('.tip-dialog .tip-where', (el) => el.textContent), new RegExp(`Local BTTC \\(chain 199\\), from your wallet to ${creator.address}`));
  await page.focus('.tip-dialog .tip-custom');
  await page.keyboard.type('1.5');
  await page.focus('.tip-dialog .tip-message');
  await page.keyboard.type('Lovely <i>work</i>');
  const before = await balance(creator.address);
  await page.focus('.tip-dialog .tip-send');
  await page.keyboard.press('Enter');
  const status = await within(60_000, 'the tip did not finish', until(() => page.$eval('.tip-dialog .tip-status', (el) => (el.classList.contains('ok') || el.classList.contains('bad')) && { ok: el.classList.contains('ok'), text: el.textContent })));
  assert.ok(status.ok, `the tip went through: ${status.text}`);
  assert.equal(await balance(creator.address) - before, 3n * WEI_PER_BTT / 2n, 'the creator got exactly 1.5 BTT');
  // The page counts it from the TipJar's logs, on the work.
  await within(30_000, 'the page did not show the tip', until(() => page.$eval('.work .tips-summary', (el) => el.textContent === '1 tip · 1.5 BTT')));
  const recent = await page.$eval('.work .tip-messages', (ul) => ({ text: ul.textContent, quotes: [...ul.querySelectorAll('q')].map((q) => q.textContent), elements: ul.querySelectorAll('i').length }));
  assert.deepEqual(recent.quotes, ['Lovely <i>work</i>']);
  assert.equal(recent.elements, 0, 'the message is text');
  assert.match(recent.text, new RegExp(`^1\\.5 BTT from ${fan.address.slice(0, 6)}…${fan.address.slice(-4)}`));
  await page.keyboard.press('Escape');
  await page.waitForSelector('.tip-dialog:not([open])', { state: 'attached' });
  assert.ok(await page.evaluate(() => document.activeElement?.classList.contains('tip-button')), 'focus back on Tip');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('with the chain RPC unreachable the page says tips are unavailable, and the work still plays', { timeout: 180_000 }, async () => {
  assert.ok(published, 'published first');
  const page = await profilePage(fan.address);
  await page.context().route((url) => url.href.startsWith(anvil.url), (route) => route.abort('connectionrefused'));
  await page.goto(published.url);
  await within(30_000, 'no works grid', page.waitForSelector('.works .work', { timeout: 0 }));
  await within(30_000, 'no "tips unavailable"', until(() => page.$eval('#tips-state', (el) => /^Tips unavailable: .*The videos still play\.$/.test(el.textContent))));
  assert.equal(await page.$eval('.work .tips-summary', (el) => el.textContent), 'Tips unavailable');
  await page.click('.work .work-play');
  await plays(page);
  await page.context().close();
});

test('a missing channel and an unreachable channel server each say so', { timeout: 60_000 }, async () => {
  const page = await profilePage(null, { viewport: PHONE });
  const nobody = anvil.accounts[5].address;
  await page.goto(`${signal.base}/@${nobody.toLowerCase()}`);
  await within(30_000, 'no missing-channel state', page.waitForFunction(() => document.getElementById('channel-name').textContent === 'No channel here', null, { timeout: 0 }));
  assert.equal(await page.$eval('#channel-state', (el) => el.textContent), 'This address has not published a channel on this site.');
  assert.ok(await page.$eval('#works-section', (el) => el.hidden));

  await page.context().route('**/api/channels/**', (route) => route.abort('connectionrefused'));
  await page.goto(published?.url ?? `${signal.base}/@${creator.address}`);
  await within(30_000, 'no unreachable state', page.waitForFunction(() => document.getElementById('channel-state').textContent.startsWith('The channel server could not be reached'), null, { timeout: 0 }));
  assert.deepEqual(await page.$$eval('#channel-state button', (b) => b.map((x) => x.textContent)), ['Try again']);
  assert.ok(await page.$eval('#works-section', (el) => el.hidden));
  await page.context().unroute('**/api/channels/**');
  await page.click('#channel-state button');
  await within(30_000, 'Try again did not load the channel', page.waitForSelector('.works .work', { timeout: 0 }));
  await page.context().close();
});

test('a manifest altered in the server\'s database is shown as not verifying: no name, works or Tip', { timeout: 120_000 }, async () => {
  assert.ok(published, 'published first');
  const page = await profilePage(fan.address);
  await page.goto(published.url);
  await within(30_000, 'no works grid', page.waitForSelector('.works .work', { timeout: 0 }));
  // Someone with the server's disk changes a title: the signature no longer covers it.
  await signal.stop();
  const database = join(dir, 'data', 'channels.sqlite3');
  execFileSync('sqlite3', [database, `UPDATE channels SET manifest = replace(manifest, '"${TITLE}"', '"Stolen light"')`]);
  const changed = execFileSync('sqlite3', [database, 'SELECT count(*) FROM channels WHERE manifest LIKE \'%Stolen light%\'']).toString().trim();
  assert.equal(changed, '1', 'the row was altered');
  signal = await startSignal({ port: signal.port, args: signalArgs });
  assert.match(await (await fetch(`${signal.base}/api/channels/${creator.address}`)).text(), /Stolen light/, 'the server serves the altered manifest');

  await page.reload();
  await within(30_000, 'no "does not verify" state', page.waitForFunction(() => document.getElementById('channel-name').textContent === 'This channel does not verify', null, { timeout: 0 }));
  const shown = await page.evaluate(() => ({
    state: document.getElementById('channel-state').textContent,
    works: document.querySelectorAll('.work').length,
    tips: document.querySelectorAll('.tip-button').length,
    text: document.body.innerText,
    links: document.querySelectorAll('#channel-address a').length,
  }));
  assert.match(shown.state, /^⚠ The channel this server sent does not verify \(.+\)\. It may have been altered, so nothing from it is shown\.$/);
  assert.equal(shown.works, 0, 'no works');
  assert.equal(shown.tips, 0, 'no Tip button');
  assert.equal(shown.links, 0, 'the address is not shown as verified');
  assert.ok(!shown.text.includes('Stolen light') && !shown.text.includes('Lovelace'), 'nothing from the manifest is shown');
  assert.deepEqual(page.errors, []);
  await page.context().close();
  await published.page.context().close();
});
