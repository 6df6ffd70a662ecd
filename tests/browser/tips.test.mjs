// Creators and tips through the JS API, in real Chromium against a real EVM node (anvil,
// chain id 199) with an injected EIP-6963 test wallet: a creator publishes from the browser
// (the wallet signs the record), a magnet-only viewer receives the record through
// ut_metadata and tips in BTT; every failure has its code and sends nothing it should not.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useSignalAndBrowser, newContext, openPage, within, ROOT } from './harness.mjs';
import { installTestWallet } from './test-wallet.mjs';
import { startAnvil } from '../interop/anvil.mjs';

const env = useSignalAndBrowser();
const WALLET = 'dev.seedcast.testwallet';
const WEI = 10n ** 18n;
let anvil;
let creator;
let viewer;
let dir;
let published; // { magnet, infoHash, torrentFile }

before(async () => {
  anvil = await startAnvil({ chainId: 199 });
  [viewer, creator] = anvil.accounts;
  dir = mkdtempSync(join(tmpdir(), 'seedcast-tips-'));
}, { timeout: 60_000 });
after(async () => {
  await anvil?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Each test's viewers are closed after it, so that only the pages a test names seed.
const viewerContexts = [];
afterEach(async () => {
  for (const context of viewerContexts.splice(0)) await context.close().catch(() => {});
});

const balance = async (address) => BigInt(await anvil.rpc('eth_getBalance', [address, 'latest']));

/** A page in a fresh profile with the test wallet (`wallet` options) and the Seedcast module. */
async function walletPage(wallet = {}, { keep = false } = {}) {
  const context = await newContext(env.browser);
  if (!keep) viewerContexts.push(context);
  if (wallet !== null) await installTestWallet(context, anvil, { account: viewer.address, ...wallet });
  return openPage(context, env.signal.base);
}

/** The creator's page publishing 1 MiB as "Ada Lovelace", the wallet signing the record. */
async function publish() {
  if (published) return published;
  const page = await walletPage({ account: creator.address }, { keep: true });
  published = await page.evaluate(async ({ tracker, wallet }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = await client.seed(new File([window.testUtils.makeContent(1 << 20, 7)], 'film.bin'),
      { creator: { name: 'Ada Lovelace', wallet } });
    window.keep = { client, torrent };
    return { magnet: torrent.magnetURI, infoHash: torrent.infoHash, creator: torrent.creator,
      torrentFile: [...torrent.torrentFile()], log: window.testWallet.log.map((e) => e.method) };
  }, { tracker: env.signal.tracker, wallet: WALLET });
  published.page = page;
  return published;
}

/** A viewer that opened the magnet link and has the metadata (so the creator is known). */
async function viewerWith(wallet, options = {}) {
  const { magnet } = await publish();
  const page = await walletPage(wallet);
  const creatorSeen = await within(60_000, 'the viewer never got the metadata', page.evaluate(async ({ magnet, tracker, options }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker], ...options });
    const torrent = client.add(magnet);
    window.viewer = { client, torrent };
    if (!torrent.stats().hasMetadata) await new Promise((res) => torrent.addEventListener('metadata', res, { once: true }));
    return torrent.creator;
  }, { magnet, tracker: env.signal.tracker, options }));
  return { page, creatorSeen };
}

/** `torrent.tip(...)` in the viewer page: `{ok: result, stages}` or `{code, message}`. */
function tip(page, amount, options = {}) {
  return page.evaluate(async ({ amount, options }) => {
    const stages = [];
    try {
      const result = await window.viewer.torrent.tip(amount, { ...options, onStage: (s) => stages.push(s) });
      return { ok: result, stages };
    } catch (e) {
      return { code: e.code, message: e.message, stages };
    }
  }, { amount, options });
}

const walletLog = (page) => page.evaluate(() => window.testWallet.log.map((e) => e.method));

test('a creator publishes from the browser: the wallet signs the record and the CLI and viem verify it', { timeout: 120_000 }, async () => {
  const { creator: record, torrentFile, log } = await publish();
  assert.deepEqual(record, { address: creator.address, name: 'Ada Lovelace', verified: true });
  assert.deepEqual(log, ['eth_requestAccounts', 'eth_signTypedData_v4']);
  const path = join(dir, 'published.torrent');
  writeFileSync(path, Buffer.from(torrentFile));
  const out = spawnSync(process.env.SEEDCAST_BIN ?? join(ROOT, 'target/debug/seedcast'), ['info', path, '--json'], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const info = JSON.parse(out.stdout).creator;
  assert.equal(info.address, creator.address);
  assert.equal(info.verified, true);
  const { verifyTypedData } = await import('viem');
  assert.ok(await verifyTypedData({ address: creator.address, ...info.typed_data, signature: info.signature }),
    'viem verifies the record the browser wallet signed');
});

test('a magnet-only viewer gets the verified creator through ut_metadata and tips 1.5 BTT', { timeout: 120_000 }, async () => {
  const { page, creatorSeen } = await viewerWith({});
  assert.deepEqual(creatorSeen, { address: creator.address, name: 'Ada Lovelace', verified: true });
  const before = await balance(creator.address);
  const result = await tip(page, '1.5');
  assert.ok(result.ok, `tip failed: ${result.code} ${result.message}`);
  assert.equal(result.ok.amountWei, '1500000000000000000');
  assert.equal(result.ok.chainId, 199);
  assert.match(result.ok.txHash, /^0x[0-9a-f]{64}$/);
  assert.equal(await balance(creator.address) - before, 15n * WEI / 10n, 'the creator received exactly 1.5 BTT');
  const receipt = await anvil.rpc('eth_getTransactionReceipt', [result.ok.txHash]);
  assert.equal(receipt.status, '0x1');
  assert.equal(receipt.to.toLowerCase(), creator.address.toLowerCase(), 'sent straight to the creator');
  assert.deepEqual(result.stages, ['connecting', 'checking-balance', 'confirm-in-wallet', 'confirming']);
});

test('through a TipJar the creator gets the tip in the same transaction and the log names the work', { timeout: 120_000 }, async () => {
  const keyFile = join(dir, 'deployer.key');
  writeFileSync(keyFile, `${anvil.accounts[2].privateKey}\n`);
  const deploy = spawnSync('node', [join(ROOT, 'scripts/deploy-tipjar.mjs'), '--rpc', anvil.url, '--key-file', keyFile, '--chain-id', '199'], { encoding: 'utf8' });
  assert.equal(deploy.status, 0, deploy.stderr);
  const tipJar = deploy.stdout.trim().split('\n').pop().trim();
  assert.match(tipJar, /^0x[0-9a-fA-F]{40}$/);
  const chain = { id: 199, name: 'Local BTTC', rpcUrls: [anvil.url], explorer: 'http://explorer.invalid', tipJar };
  const { page } = await viewerWith({}, { chain });
  const { infoHash } = await publish();
  const before = await balance(creator.address);
  const result = await tip(page, '2', { message: 'thanks for the film!' });
  assert.ok(result.ok, `tip failed: ${result.code} ${result.message}`);
  assert.equal(await balance(creator.address) - before, 2n * WEI);
  assert.equal(await balance(tipJar), 0n, 'the TipJar holds nothing');
  const receipt = await anvil.rpc('eth_getTransactionReceipt', [result.ok.txHash]);
  assert.equal(receipt.to.toLowerCase(), tipJar.toLowerCase());
  const pad = (hex) => `0x${hex.replace(/^0x/, '').toLowerCase().padStart(64, '0')}`;
  const logs = await anvil.rpc('eth_getLogs', [{ address: tipJar, fromBlock: '0x0',
    topics: [null, pad(creator.address), `0x${infoHash}${'0'.repeat(24)}`] }]);
  assert.equal(logs.length, 1, 'one Tip event for this creator and work');
});

test('a wallet on another chain is switched (added first when unknown, in each form wallets say so)', { timeout: 180_000 }, async () => {
  for (const form of ['metamask', 'mobile', 'coinbase']) {
    const { page } = await viewerWith({ chainId: '0x1', known: ['0x1'], unknownChainForm: form });
    const before = await balance(creator.address);
    const result = await tip(page, '0.25');
    assert.ok(result.ok, `${form}: tip failed: ${result.code} ${result.message}`);
    assert.equal(await balance(creator.address) - before, WEI / 4n);
    const log = await walletLog(page);
    assert.deepEqual(log.filter((m) => m.startsWith('wallet_')),
      ['wallet_switchEthereumChain', 'wallet_addEthereumChain', 'wallet_switchEthereumChain'], form);
    const added = await page.evaluate(() => window.testWallet.log.find((e) => e.method === 'wallet_addEthereumChain').params[0]);
    assert.equal(added.chainId, '0xc7');
    assert.deepEqual(added.nativeCurrency, { name: 'BitTorrent', symbol: 'BTT', decimals: 18 });
  }
});

test('refusals send nothing: the user rejects, declines the chain switch, or lacks the funds', { timeout: 180_000 }, async () => {
  const before = await balance(creator.address);
  const rejected = await viewerWith({ reject: ['eth_sendTransaction'] });
  const r1 = await tip(rejected.page, '1');
  assert.equal(r1.code, 'rejected', r1.message);

  const declined = await viewerWith({ chainId: '0x1', reject: ['wallet_switchEthereumChain'] });
  const r2 = await tip(declined.page, '1');
  assert.equal(r2.code, 'wrong-chain', r2.message);
  assert.ok(!(await walletLog(declined.page)).includes('eth_sendTransaction'));

  // An account holding 1 BTT (impersonated on anvil) tipping 5.
  const poor = '0x00000000000000000000000000000000000b0b00';
  await anvil.rpc('anvil_impersonateAccount', [poor]);
  await anvil.rpc('anvil_setBalance', [poor, `0x${WEI.toString(16)}`]);
  const broke = await viewerWith({ account: poor });
  const r3 = await tip(broke.page, '5');
  assert.equal(r3.code, 'insufficient-funds', r3.message);
  assert.match(r3.message, /5/);
  assert.ok(!(await walletLog(broke.page)).includes('eth_sendTransaction'), 'the wallet was never asked to send');
  assert.equal(await balance(creator.address), before, 'the creator received nothing');
});

test('bad amounts and a missing wallet are refused before any wallet prompt', { timeout: 120_000 }, async () => {
  const { page } = await viewerWith({});
  for (const amount of ['0', '-1', '1.0000000000000000001', 'abc', '1e3', '', 1.5]) {
    const r = await tip(page, amount);
    assert.equal(r.code, 'invalid-amount', `${JSON.stringify(amount)}: ${r.code} ${r.message}`);
  }
  assert.deepEqual(await walletLog(page), []);

  const bare = await viewerWith(null);
  assert.deepEqual(await bare.page.evaluate(() => window.viewer.client.wallets()), []);
  const r = await tip(bare.page, '1');
  assert.equal(r.code, 'no-wallet', r.message);
});

test('a record that does not verify is shown unverified and can never be tipped', { timeout: 120_000 }, async () => {
  // The published torrent with one letter of the creator's name changed: the info hash
  // changes with it, and the signature no longer covers the record.
  const { torrentFile } = await publish();
  const bytes = Buffer.from(torrentFile);
  const at = bytes.indexOf('Ada Lovelace');
  assert.ok(at > 0);
  bytes.write('Eve', at);
  const page = await walletPage({});
  const result = await page.evaluate(async ({ bytes, tracker }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = client.add(new Uint8Array(bytes));
    let code;
    try { await torrent.tip('1'); } catch (e) { code = e.code; }
    return { creator: torrent.creator, code, log: window.testWallet.log.length };
  }, { bytes: [...bytes], tracker: env.signal.tracker });
  assert.equal(result.creator.verified, false);
  assert.equal(result.creator.name, 'Eve Lovelace');
  assert.equal(result.code, 'unverified-creator');
  assert.equal(result.log, 0, 'no wallet request at all');
});

test('publishing as a creator fails cleanly when the wallet refuses to sign', { timeout: 60_000 }, async () => {
  const page = await walletPage({ account: creator.address, reject: ['eth_signTypedData_v4'] });
  const r = await page.evaluate(async ({ tracker, wallet }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    try {
      await client.seed(new File([new Uint8Array(1000)], 'x.bin'), { creator: { name: 'Ada', wallet } });
      return { ok: true };
    } catch (e) { return { code: e.code, message: e.message, torrents: client.torrents.length }; }
  }, { tracker: env.signal.tracker, wallet: WALLET });
  assert.equal(r.code, 'rejected', r.message);
  assert.equal(r.torrents, 0);
});

test('WebTorrent swarms a creator torrent as usual, and passes the record on to the next viewer', { timeout: 180_000 }, async () => {
  const { magnet, page: creatorPage } = await publish();
  // WebTorrent downloads the creator torrent from the Seedcast seeder...
  const wtContext = await newContext(env.browser);
  viewerContexts.push(wtContext);
  const wt = await wtContext.newPage();
  await wt.goto(`${env.signal.base}/example.html`);
  const wtDigest = await within(90_000, 'WebTorrent did not download the creator torrent', wt.evaluate(async ({ magnet, tracker }) => {
    const WebTorrent = (await import('/webtorrent.min.js')).default;
    const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    const torrent = await new Promise((res) => client.add(magnet, { announce: [tracker] }, res));
    await new Promise((res) => (torrent.done ? res() : torrent.on('done', res)));
    window.wt = { client, torrent };
    return window.testUtils.sha256(new Uint8Array(await torrent.files[0].arrayBuffer()));
  }, { magnet, tracker: env.signal.tracker }));
  assert.equal(wtDigest, await creatorPage.evaluate(() => window.testUtils.sha256(window.testUtils.makeContent(1 << 20, 7))));
  // ...and is then the only seeder: the next Seedcast viewer gets metadata and content from it.
  await creatorPage.evaluate(() => window.keep.torrent.remove());
  const { page, creatorSeen } = await viewerWith({});
  assert.deepEqual(creatorSeen, { address: creator.address, name: 'Ada Lovelace', verified: true });
  const done = await within(90_000, 'the viewer did not download from WebTorrent', page.evaluate(async () => {
    const { torrent } = window.viewer;
    if (!torrent.stats().done) await new Promise((res) => torrent.addEventListener('done', res, { once: true }));
    return window.testUtils.sha256(await torrent.files[0].bytes());
  }));
  assert.equal(done, wtDigest);
});

test('a work without a creator record is tipped to the creator of the verified channel that lists it', { timeout: 120_000 }, async () => {
  // A plain torrent (no record) seeded by a page, added to the creator's channel with the CLI.
  const seeder = await walletPage(null);
  const plain = await seeder.evaluate(async ({ tracker }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = await client.seed(new File([window.testUtils.makeContent(300_000, 11)], 'plain.bin'));
    window.keepPlain = { client, torrent };
    return { magnet: torrent.magnetURI, torrentFile: [...torrent.torrentFile()] };
  }, { tracker: env.signal.tracker });
  const torrentPath = join(dir, 'plain.torrent');
  const keyFile = join(dir, 'creator.key');
  writeFileSync(torrentPath, Buffer.from(plain.torrentFile));
  writeFileSync(keyFile, `${creator.privateKey}\n`);
  const add = spawnSync(process.env.SEEDCAST_BIN ?? join(ROOT, 'target/debug/seedcast'),
    ['channel', 'add', '--key', keyFile, '--server', env.signal.base, '--name', 'Ada', torrentPath], { encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);

  const page = await walletPage({});
  const before = await balance(creator.address);
  const result = await page.evaluate(async ({ magnet, tracker, address }) => {
    const client = await window.Seedcast.SeedcastClient.create({ trackers: [tracker] });
    const torrent = client.add(magnet);
    if (!torrent.stats().hasMetadata) await new Promise((res) => torrent.addEventListener('metadata', res, { once: true }));
    const attempt = () => torrent.tip('1').then((ok) => ({ ok }), (e) => ({ code: e.code, message: e.message }));
    const withoutChannel = await attempt();
    const requestsBefore = window.testWallet.log.length;
    const channel = await client.channel(address);
    return { creator: torrent.creator, withoutChannel, requestsBefore, channel: channel.verified, withChannel: await attempt() };
  }, { magnet: plain.magnet, tracker: env.signal.tracker, address: creator.address });
  assert.equal(result.creator, null);
  assert.equal(result.withoutChannel.code, 'unverified-creator', 'no record and no verified channel: nobody to pay');
  assert.equal(result.requestsBefore, 0, 'the wallet was not asked');
  assert.equal(result.channel, true);
  assert.ok(result.withChannel.ok, `tip failed: ${result.withChannel.code} ${result.withChannel.message}`);
  assert.equal(await balance(creator.address) - before, WEI, 'the channel\'s creator received exactly 1 BTT');
});
