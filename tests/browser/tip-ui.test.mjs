// A viewer tips a creator from the demo app: the creator's name and address come from a record
// signed into the torrent by the CLI, the tip is sent by an injected wallet (test-wallet.mjs) on a
// real EVM node (anvil, chain 199 like BitTorrent Chain), and the creator's balance rises by
// exactly the amount. A record that does not verify shows a warning and no Tip button.
//
// The torrents are seeded by WebTorrent (its add() + load() seeds a given .torrent, so the CLI's
// creator record reaches the viewer through ut_metadata from the share link).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, useSignalAndBrowser, newContext, within, until } from './harness.mjs';
import { installTestWallet } from './test-wallet.mjs';
import { startAnvil } from '../interop/anvil.mjs';

const SEEDCAST = resolve(ROOT, process.env.SEEDCAST_BIN ?? 'target/debug/seedcast');
const WEI_PER_BTT = 10n ** 18n;

const env = useSignalAndBrowser();
let anvil;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seedcast-tip-ui-'));
  anvil = await startAnvil({ chainId: 199 });
}, { timeout: 60_000 });
after(async () => {
  await anvil?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, { timeout: 60_000 });

/** A .torrent of `bytes` made by the CLI, signed by `key` as `name`. */
function creatorTorrent(file, bytes, key, name) {
  const path = join(dir, file);
  writeFileSync(path, bytes);
  const keyFile = join(dir, `${file}.key`);
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const out = join(dir, `${file}.torrent`);
  execFileSync(SEEDCAST, ['create', path, '-o', out, '--creator-key', keyFile, '--creator-name', name, '--tracker', env.signal.tracker]);
  return readFileSync(out);
}

/** A page seeding each { torrent, content } with WebTorrent; resolves to their magnet links. */
async function seedWithWebTorrent(items) {
  const page = await (await newContext(env.browser)).newPage();
  await page.goto(`${env.signal.base}/example.html`);
  await page.evaluate(async () => { window.WebTorrent = (await import('/webtorrent.min.js')).default; });
  const magnets = await page.evaluate(async ({ tracker, items }) => {
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    window.wt = client;
    const magnets = [];
    for (const { torrent, content } of items) {
      const t = client.add(new Uint8Array(torrent), { announce: [tracker] });
      await new Promise((res, rej) => { t.once('ready', res); t.once('error', rej); });
      await new Promise((res, rej) => t.load([[new Uint8Array(content)]], (e) => (e ? rej(e) : res())));
      magnets.push(t.magnetURI);
    }
    return magnets;
  }, { tracker: env.signal.tracker, items: items.map(({ torrent, content }) => ({ torrent: [...torrent], content: [...content] })) });
  return { page, magnets };
}

/** The demo app opened from a share link, in a profile with the test wallet as `account`. */
async function viewer(magnet, account) {
  const context = await newContext(env.browser);
  await installTestWallet(context, anvil, { account, chainId: '0xc7' });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${env.signal.base}/#${magnet}`);
  return page;
}

const balance = async (address) => BigInt(await anvil.rpc('eth_getBalance', [address, 'latest']));

test('a viewer tips a verified creator 1.5 BTT with the keyboard; names stay text', { timeout: 180_000 }, async () => {
  const [payer, creator] = anvil.accounts;
  const name = 'Alice <img src=x onerror="window.pwned=1"> &amp; <b>co</b>';
  const content = Buffer.alloc(200_000, 7);
  const torrent = creatorTorrent('clip.bin', content, creator.privateKey, name);
  const { page: seeder, magnets: [magnet] } = await seedWithWebTorrent([{ torrent, content }]);

  const page = await viewer(magnet, payer.address);
  await within(60_000, 'the creator line never appeared', page.waitForSelector('.torrent .creator-line', { timeout: 0 }));
  const line = await page.$eval('.torrent .creator', (el) => ({
    name: el.querySelector('.creator-name').textContent,
    address: el.querySelector('.creator-address').textContent,
    title: el.querySelector('.creator-address').title,
    href: el.querySelector('.creator-address').href,
    rel: el.querySelector('.creator-address').rel,
    text: el.textContent,
    images: el.querySelectorAll('img').length,
  }));
  assert.equal(line.name, name, 'the name reads exactly as signed');
  assert.equal(line.images, 0, 'no element was made from the name');
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(line.title, creator.address);
  assert.equal(line.address, `${creator.address.slice(0, 6)}…${creator.address.slice(-4)}`);
  assert.equal(line.href, `https://bttcscan.com/address/${creator.address}`);
  assert.match(line.rel, /noopener/);
  assert.match(line.text, /BitTorrent Chain/, 'the chain the money goes to is named');

  // Keyboard only: focus the Tip button, Enter opens the dialog with the focus inside it.
  await page.focus('.torrent .tip-button');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.tip-dialog[open]');
  assert.ok(await page.evaluate(() => document.activeElement.closest('.tip-dialog[open]') !== null), 'focus moved into the dialog');
  // Esc closes it and gives the focus back to the Tip button.
  await page.keyboard.press('Escape');
  await page.waitForSelector('.tip-dialog:not([open])', { state: 'attached' });
  assert.ok(await page.evaluate(() => document.activeElement.classList.contains('tip-button')), 'focus back on Tip');

  await page.keyboard.press('Enter');
  await page.waitForSelector('.tip-dialog[open]');
  await page.waitForSelector('.tip-dialog .tip-wallets > *');
  await page.focus('.tip-dialog .tip-custom');
  await page.keyboard.type('1.5');
  await page.focus('.tip-dialog .tip-message');
  await page.keyboard.type('Thanks for the clip');
  const before = await balance(creator.address);
  const outcome = () => within(60_000, 'the tip did not finish', until(() => page.$eval('.tip-dialog .tip-status', (el) => (el.classList.contains('ok') || el.classList.contains('bad')) && {
    ok: el.classList.contains('ok'), text: el.textContent, href: el.querySelector('a')?.href,
  })));
  // Declined in the wallet first: the dialog says so and stays usable.
  await page.evaluate(() => window.testWallet.reject.add('eth_sendTransaction'));
  await page.focus('.tip-dialog .tip-send');
  await page.keyboard.press('Enter');
  assert.deepEqual(await outcome(), { ok: false, text: 'Declined in your wallet: nothing was sent or signed.', href: undefined });
  await page.evaluate(() => window.testWallet.reject.clear());
  await page.focus('.tip-dialog .tip-send');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.querySelector('.tip-dialog .tip-status').classList.contains('bad'));
  const status = await outcome();
  assert.ok(status.ok, `the tip succeeded: ${status.text}`);
  assert.match(status.text, /^Sent 1\.5 BTT to /);
  assert.match(status.href, /^https:\/\/bttcscan\.com\/tx\/0x[0-9a-f]{64}$/);
  const txHash = status.href.split('/tx/')[1];
  const receipt = await anvil.rpc('eth_getTransactionReceipt', [txHash]);
  assert.equal(receipt.status, '0x1');
  assert.equal(await balance(creator.address) - before, 3n * WEI_PER_BTT / 2n, 'the creator got exactly 1.5 BTT');
  assert.deepEqual(page.errors, []);
  await page.context().close();

  // The embeddable player shows the same creator below the video, on the site's chain: its URL
  // parameters cannot choose another chain or tip jar. Space on its Tip button opens the dialog
  // (it is not the player's play/pause key there).
  const embed = await viewer(magnet, payer.address);
  await embed.goto(`${env.signal.base}/embed.html?chain=donau&tipJar=0x${'66'.repeat(20)}&explorer=https://evil.example#${magnet}`);
  await within(60_000, 'the player never showed the creator', embed.waitForSelector('seedcast-player .creator-line', { timeout: 0 }));
  assert.equal(await embed.$eval('seedcast-player .creator-name', (el) => el.textContent), name);
  assert.equal(await embed.$eval('seedcast-player .creator-address', (el) => el.href), `https://bttcscan.com/address/${creator.address}`);
  await embed.focus('seedcast-player .tip-button');
  await embed.keyboard.press(' ');
  await embed.waitForSelector('seedcast-player .tip-dialog[open]');
  assert.match(await embed.$eval('seedcast-player .tip-where', (el) => el.textContent), /BitTorrent Chain \(chain 199\)/);
  await embed.context().close();

  // A site whose chain.json names its own chain, answered late: the player's client starts on
  // the default chain (it does not wait for chain.json), and the creator and Tip button show
  // only once the site's chain is applied.
  const late = await newContext(env.browser);
  await installTestWallet(late, anvil, { account: payer.address, chainId: '0xc7' });
  await late.route('**/chain.json', async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.fulfill({ contentType: 'application/json', body: JSON.stringify({ id: 199, name: 'Local BTTC', rpcUrls: [anvil.url], explorer: 'https://explorer.local.example' }) });
  });
  const site = await late.newPage();
  const siteErrors = [];
  site.on('pageerror', (e) => siteErrors.push(e.message));
  await site.goto(`${env.signal.base}/embed.html#${magnet}`);
  await within(60_000, 'the player never showed the creator', site.waitForSelector('seedcast-player .creator-line', { timeout: 0 }));
  assert.equal(await site.$eval('seedcast-player .creator-address', (el) => el.href), `https://explorer.local.example/address/${creator.address}`);
  await site.focus('seedcast-player .tip-button');
  await site.keyboard.press('Enter');
  await site.waitForSelector('seedcast-player .tip-dialog[open]');
  assert.match(await site.$eval('seedcast-player .tip-where', (el) => el.textContent), /Local BTTC \(chain 199\)/);
  assert.deepEqual(siteErrors, []);
  await late.close();
  await seeder.context().close();
});

test('a record that does not verify shows a warning and no Tip button', { timeout: 180_000 }, async () => {
  const [payer, creator] = anvil.accounts;
  const content = Buffer.alloc(150_000, 9);
  const signed = creatorTorrent('forged.bin', content, creator.privateKey, 'Mallory1');
  // The name changed after signing (same length, so the bencoding stays valid): the signature
  // no longer covers the record, as if someone put their name on another's signature.
  const at = signed.indexOf('8:Mallory1');
  assert.ok(at > 0 && signed.indexOf('8:Mallory1', at + 1) < 0, 'the name occurs once');
  const forged = Buffer.from(signed);
  forged.write('8:Mallory2', at);
  const { page: seeder, magnets: [magnet] } = await seedWithWebTorrent([{ torrent: forged, content }]);

  const page = await viewer(magnet, payer.address);
  await within(60_000, 'no warning appeared', page.waitForSelector('.torrent .creator-warning', { timeout: 0 }));
  assert.match(await page.$eval('.torrent .creator-warning', (el) => el.textContent), /Creator record does not verify — tips are disabled/);
  assert.equal(await page.$$eval('.torrent .tip-button', (b) => b.length), 0, 'no Tip button');
  assert.equal(await page.$$eval('.torrent .creator-line', (b) => b.length), 0, 'no creator line');
  await page.context().close();
  await seeder.context().close();
});

test('publishing from the app signed as a creator: the wallet signs, the card shows the creator', { timeout: 180_000 }, async () => {
  const creator = anvil.accounts[2];
  const context = await newContext(env.browser);
  await installTestWallet(context, anvil, { account: creator.address, chainId: '0xc7' });
  // The site's chain.json (what `seedcast-signal --chain donau` serves) decides the chain shown.
  const donau = { id: 1029, name: 'BitTorrent Chain Donau', rpcUrls: ['https://pre-rpc.bt.io'], explorer: 'https://testscan.bt.io', tipJar: null };
  await context.route('**/chain.json', (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify(donau) }));
  const page = await context.newPage();
  await page.goto(`${env.signal.base}/`);
  await page.waitForFunction(() => document.getElementById('creator-chain').textContent === 'BitTorrent Chain Donau');
  await page.click('#creator-section summary');
  await page.fill('#creator-name', 'Carol <3');
  await page.waitForSelector('#creator-wallets > *');
  await page.setInputFiles('#file-input', { name: 'song.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(50_000, 3) });
  await within(60_000, 'no creator line on the shared torrent', page.waitForSelector('.torrent .creator-line', { timeout: 0 }));
  assert.equal(await page.$eval('.torrent .creator-name', (el) => el.textContent), 'Carol <3');
  assert.equal(await page.$eval('.torrent .creator-address', (el) => el.title), creator.address);
  assert.equal(await page.$eval('.torrent .creator-address', (el) => el.href), `https://testscan.bt.io/address/${creator.address}`);
  assert.match(await page.$eval('.torrent .creator-line', (el) => el.textContent), /on BitTorrent Chain Donau/);
  const signed = await page.evaluate(() => window.testWallet.log.filter((r) => r.method === 'eth_signTypedData_v4').length);
  assert.equal(signed, 1, 'the wallet was asked to sign once');
  await context.close();
});

test('without a readable chain.json the app uses BitTorrent Chain mainnet and says so in the console', { timeout: 60_000 }, async () => {
  const context = await newContext(env.browser);
  await context.route('**/chain.json', (route) => route.fulfill({ status: 500, body: 'down' }));
  const page = await context.newPage();
  const warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  await page.goto(`${env.signal.base}/`);
  await within(20_000, 'the app did not start', page.waitForFunction(() => document.getElementById('tracker-status').textContent.startsWith('Connected'), null, { timeout: 0 }));
  assert.equal(await page.$eval('#creator-chain', (el) => el.textContent), 'BitTorrent Chain');
  assert.ok(warnings.some((w) => /chain\.json .*default chain/.test(w)), `a console warning: ${warnings.join(' | ')}`);
  await context.close();
});

test('declining to sign when publishing as a creator shares nothing and says why', { timeout: 60_000 }, async () => {
  const context = await newContext(env.browser);
  await installTestWallet(context, anvil, { account: anvil.accounts[3].address, chainId: '0xc7', reject: ['eth_signTypedData_v4'] });
  // The section is opened while the wasm still loads: its wallets are listed once the app is ready.
  let releaseWasm;
  const wasmHeld = new Promise((resolve) => { releaseWasm = resolve; });
  await context.route('**/seedcast_bg.wasm', async (route) => { await wasmHeld; await route.continue(); });
  const page = await context.newPage();
  await page.goto(`${env.signal.base}/`);
  await page.click('#creator-section summary');
  releaseWasm();
  await page.fill('#creator-name', 'Dave');
  await page.waitForSelector('#creator-wallets > *');
  await page.setInputFiles('#file-input', { name: 'unsigned.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(20_000, 5) });
  await within(30_000, 'no error shown', page.waitForSelector('#errors p', { timeout: 0 }));
  assert.equal(await page.$eval('#errors p', (el) => el.textContent), 'Could not share: Declined in your wallet: nothing was sent or signed.');
  assert.equal(await page.$$eval('.torrent', (t) => t.length), 0, 'nothing was shared');
  await context.close();
});
