// The demo app: seed dropped files and share a link; open a link to download with live
// peers, speeds and a piece map. A torrent with a video or audio file gets a
// <seedcast-player>: the share link plays while it downloads, and the tab seeds on.
// Text from torrents and peers is only ever set with textContent, never parsed as HTML.
import { SeedcastClient, defaultTracker } from './seedcast.js';
import { showStored } from './stored.js';
import { withSiteChain } from './chain.js';
import { showCreator, walletPicker, errorText, byteLength, MAX_NAME_BYTES, adoptTipDialogStyles } from './creator-ui.js';
import { makePoster } from './poster.js';
import './player.js';

adoptTipDialogStyles();

const PLAYABLE = /\.(mp4|m4v|mov|webm|mkv|mp3|m4a|ogg|ogv|oga|opus|wav|flac)$/i;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let client;
let refreshStored = () => {};
/** Resolves with the client once it is created (null if it could not start): files chosen
 *  or dropped while the wasm still loads are seeded then, not lost. */
let clientStarted;
const clientReady = new Promise((resolve) => { clientStarted = resolve; });

function showError(message) {
  const p = document.createElement('p');
  p.textContent = message;
  $('errors').append(p);
}

function formatBytes(n) {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** The app's link for a magnet. The fragment carries the magnet text exactly: its values are
 *  already percent-encoded (Magnet::to_uri), so the reader passes it on undecoded and the one
 *  decoding happens in the magnet parser. `#` cannot occur raw in a fragment: escaped, it reads
 *  the same to that parser. */
function shareLink(magnet) {
  return `${location.origin}${location.pathname}#${magnet.replaceAll('#', '%23')}`;
}

/** Text as an HTML attribute value between double quotes. */
function attribute(text) {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
}

/** The copy-paste code that embeds a player for `magnet` on a page of any origin: this site's
 *  embed.js (documented in the API reference, see player.d.ts). */
function embedSnippet(magnet) {
  return `<script src="${attribute(new URL('embed.js', location.href).href)}" async></script>\n`
    + `<seedcast-player src="${attribute(magnet)}"></seedcast-player>`;
}

/** Until the client is wired a form's submit would be a page navigation that loses what was
 *  typed: it is held instead and submitted again once the app is ready. Returns that release. */
function holdFormsUntilWired() {
  let wired = false;
  const held = new Set();
  for (const form of document.forms) {
    form.addEventListener('submit', (e) => {
      if (wired) return;
      e.preventDefault();
      held.add(form);
    });
  }
  return () => {
    wired = true;
    for (const form of held) form.requestSubmit();
  };
}

async function start() {
  const releaseForms = holdFormsUntilWired();
  wireSeeding();
  wireCreator();
  if (typeof RTCPeerConnection === 'undefined') {
    showError('This browser cannot make WebRTC connections, so it cannot share or download here. Try a current Chrome, Firefox or Safari.');
    clientStarted(null);
    return;
  }
  try {
    const iceServers = params.getAll('stun').map((urls) => ({ urls }));
    // The chain tips go to is the site's (chain.json), never a URL parameter.
    client = await withSiteChain((chain) => SeedcastClient.create({ trackers: [params.get('tracker') ?? defaultTracker()], iceServers, chain }));
  } catch (e) {
    showError(`Seedcast could not start: ${e.message}`);
    clientStarted(null);
    return;
  }
  clientStarted(client);
  // The page's own tracker decides the status line; trackers that shared links bring in
  // (a magnet's tr=) only add a note when they cannot be reached.
  const primary = params.get('tracker') ?? defaultTracker();
  const others = new Map();
  client.addEventListener('tracker', ({ detail }) => {
    const el = $('tracker-status');
    if (detail.url !== primary) {
      others.set(detail.url, detail.connected);
      const down = [...others.values()].filter((up) => !up).length;
      el.dataset.others = down ? ` (${down} other tracker${down === 1 ? '' : 's'} from shared links unreachable)` : '';
      el.textContent = (el.dataset.main ?? '') + el.dataset.others;
      return;
    }
    el.classList.toggle('bad', !detail.connected);
    el.dataset.main = detail.connected
      ? (detail.message ? `Tracker says: ${detail.message}` : 'Connected to the tracker: ready to share and download.')
      : `Cannot reach the tracker at ${detail.url}, so no new peers can be found. Retrying${detail.retryInSeconds ? ` in ${detail.retryInSeconds} s` : ''}…`;
    el.textContent = el.dataset.main + (el.dataset.others ?? '');
  });
  $('creator-chain').textContent = client.chain.name;
  wirePublish();
  refreshStored = showStored(client);
  wireDownloading();
  releaseForms();
}

function wireSeeding() {
  const zone = $('drop-zone');
  const seed = async (files) => {
    if (!files.length) return;
    const hashing = $('hashing');
    hashing.hidden = false;
    hashing.textContent = `Preparing ${files.length === 1 ? files[0].name : `${files.length} files`}…`;
    try {
      if (!(await clientReady)) return;
      const creator = creatorOptions();
      if (creator === null) return;
      if (creator) hashing.textContent += ' Your wallet will ask you to sign the creator record.';
      show(await client.seed(files, creator ? { creator } : {}));
    } catch (e) {
      showError(`Could not share: ${e.code ? errorText(e, client.chain) : e.message}`);
    } finally {
      hashing.hidden = true;
    }
  };
  $('file-input').addEventListener('change', (e) => seed([...e.target.files]));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => { e.preventDefault(); zone.classList.remove('over'); seed([...e.dataTransfer.files]); });
}

/** "Sign as creator": the wallet to sign with, listed when the section is opened. Wired before
 *  the wasm is loaded: a section opened meanwhile lists its wallets once the client is ready. */
let creatorWallet = () => undefined;
function wireCreator() {
  $('creator-section').addEventListener('toggle', async (e) => {
    if (!e.target.open) return;
    const ready = await clientReady;
    if (ready && e.target.open) creatorWallet = await walletPicker($('creator-wallets'), ready, 'creator-wallet');
  });
  const name = $('creator-name');
  name.addEventListener('input', () => {
    const n = byteLength(name.value);
    $('creator-name-count').textContent = n > MAX_NAME_BYTES ? `${n} bytes: at most ${MAX_NAME_BYTES}` : '';
  });
}

/** Most bytes of a work's title (the channel format's bound, crate/src/channel MAX_TITLE_BYTES). */
const MAX_TITLE_BYTES = 200;

/** "Publish as creator": a video seeded with a wallet-signed creator record, then added to the
 *  wallet account's channel (signed again) on this server; the page link is shown. */
function wirePublish() {
  for (const span of document.querySelectorAll('#publish .chain-name')) span.textContent = client.chain.name;
  // Wallets announce themselves (EIP-6963) for a moment: a Publish pressed meanwhile waits for
  // the list instead of signing with whichever wallet answers first.
  const picker = walletPicker($('publish-wallets'), client, 'publish-wallet');
  let file;
  const choose = (chosen) => {
    if (!chosen) return;
    file = chosen;
    $('publish-file-name').textContent = `Video: ${file.name}`;
    // A title to start from: the file's name without its extension.
    if (!$('publish-title').value.trim()) $('publish-title').value = file.name.replace(/\.[^.]*$/, '');
  };
  const drop = $('publish-drop');
  $('publish-file').addEventListener('change', (e) => choose(e.target.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); choose(e.dataTransfer.files[0]); });
  $('publish-copy').addEventListener('click', () => navigator.clipboard?.writeText($('publish-link').value));

  const status = $('publish-status');
  const say = (text, bad = false) => { status.textContent = text; status.classList.toggle('bad', bad); };
  let busy = false;
  let seeded;
  $('publish-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    const name = $('publish-name').value.trim();
    const title = $('publish-title').value.trim();
    if (!name) { say('Type your name: fans see it on your page.', true); $('publish-name').focus(); return; }
    if (byteLength(name) > MAX_NAME_BYTES) { say(`Your name is longer than ${MAX_NAME_BYTES} bytes.`, true); $('publish-name').focus(); return; }
    if (!file) { say('Choose a video to publish.', true); $('publish-file').focus(); return; }
    if (!title) { say('Give the video a title.', true); $('publish-title').focus(); return; }
    if (byteLength(title) > MAX_TITLE_BYTES) { say(`The title is longer than ${MAX_TITLE_BYTES} bytes.`, true); $('publish-title').focus(); return; }
    busy = true;
    $('publish-button').disabled = true;
    $('publish-result').hidden = true;
    try {
      const wallet = await picker;
      say(`Preparing ${file.name}… Your wallet will ask you to sign the creator record.`);
      // A retry after the channel step failed reuses the torrent already signed and seeded.
      let torrent = seeded?.file === file && seeded.name === name && client.torrents.includes(seeded.torrent) ? seeded.torrent : null;
      if (!torrent) {
        torrent = await client.seed(file, { creator: { name, wallet: wallet() } });
        seeded = { file, name, torrent };
        show(torrent);
      }
      const poster = await makePoster(file);
      say('Your wallet will ask you to sign your channel with the new work…');
      const { url } = await torrent.publishToChannel({ wallet: wallet(), title, name, ...(poster ? { poster } : {}) });
      say('Published. Keep this tab open while it is new: it shares the video until viewers do.');
      $('publish-link').value = url;
      $('publish-open').href = url;
      $('publish-open').textContent = url;
      $('publish-result').hidden = false;
    } catch (error) {
      say(`Could not publish: ${error.code === 'failed' ? error.message : errorText(error, client.chain)}`, true);
    } finally {
      busy = false;
      $('publish-button').disabled = false;
    }
  });
}

/** `{ name, wallet }` when sharing signed as a creator, undefined when not, null (after saying
 *  why) when the name is too long. */
function creatorOptions() {
  if (!$('creator-section').open) return undefined;
  const name = $('creator-name').value.trim();
  if (!name) return undefined;
  if (byteLength(name) > MAX_NAME_BYTES) {
    showError(`Could not share: the creator name is longer than ${MAX_NAME_BYTES} bytes.`);
    return null;
  }
  return { name, wallet: creatorWallet() };
}

function wireDownloading() {
  const add = (text) => {
    const magnet = text.trim().replace(/^.*?#(?=magnet:)/, '');
    try {
      show(client.add(magnet));
    } catch (e) {
      showError(`That link does not work: ${e.message}`);
    }
  };
  $('add-form').addEventListener('submit', (e) => { e.preventDefault(); add($('magnet-input').value); $('magnet-input').value = ''; });
  // Not decoded here: the magnet parser decodes its values once (see shareLink).
  const fromHash = location.hash.slice(1);
  if (fromHash.startsWith('magnet:')) add(fromHash);
}

/** Renders one torrent and keeps it up to date until removed. */
function show(torrent) {
  $('empty').hidden = true;
  const li = $('torrent-template').content.firstElementChild.cloneNode(true);
  li.dataset.infoHash = torrent.infoHash;
  const q = (sel) => li.querySelector(sel);
  $('torrents').prepend(li);

  const refresh = () => {
    const s = torrent.stats();
    q('.name').textContent = torrent.name ?? 'Fetching torrent details…';
    q('.progress').value = s.progress;
    const peers = `${s.peers} peer${s.peers === 1 ? '' : 's'}`;
    q('.numbers').textContent = s.done
      ? `Done · ${formatBytes(s.length)} · sharing with ${peers} · ↑ ${formatBytes(s.uploadSpeed)}/s · ${formatBytes(s.uploaded)} sent`
      : `${(s.progress * 100).toFixed(1)}% of ${formatBytes(s.length)} · ${peers} · ↓ ${formatBytes(s.downloadSpeed)}/s · ↑ ${formatBytes(s.uploadSpeed)}/s`;
    drawPieces(q('.piece-map'), torrent.pieces());
  };
  const showShare = () => {
    q('.share-row').hidden = false;
    q('.share-link').value = shareLink(torrent.magnetURI);
    const file = torrent.torrentFile();
    if (file && !q('.torrent-file').href) {
      q('.torrent-file').href = URL.createObjectURL(new Blob([file], { type: 'application/x-bittorrent' }));
      q('.torrent-file').download = `${torrent.name ?? torrent.infoHash}.torrent`;
    }
  };
  const showPlayer = () => {
    if (q('seedcast-player') || !torrent.files.some((f) => PLAYABLE.test(f.name))) return;
    q('.embed').hidden = false;
    q('.embed-code').value = embedSnippet(torrent.magnetURI);
    const player = document.createElement('seedcast-player');
    player.setAttribute('aria-label', `Player: ${torrent.name ?? 'video'}`);
    player.torrent = torrent;
    q('.player-slot').append(player);
  };
  const showFiles = () => {
    const list = q('.files');
    list.replaceChildren(...torrent.files.map((f) => {
      const item = document.createElement('li');
      if (f.done) {
        const a = document.createElement('a');
        // A link only once it leads somewhere: building the URL reads the file from storage.
        f.url().then((url) => { a.href = url; a.className = 'file-link'; }, (e) => { item.title = e.message; });
        a.download = f.name;
        a.textContent = f.path;
        item.append(a, ` (${formatBytes(f.length)})`);
      } else {
        item.textContent = `${f.path} (${formatBytes(f.length)})`;
      }
      return item;
    }));
  };

  // A download that finds nobody for a while says so in plain words.
  const startedAt = Date.now();
  const lonelyHint = () => {
    const s = torrent.stats();
    q('.hint').textContent = !s.done && s.peers === 0 && Date.now() - startedAt > 20_000
      ? 'No one sharing this is reachable right now. Keep this tab open: the download starts as soon as someone with the file comes online.'
      : '';
  };
  const timer = setInterval(() => { refresh(); lonelyHint(); }, 500);
  const creator = () => showCreator(q('.creator'), torrent, client);
  torrent.addEventListener('metadata', () => { showShare(); showFiles(); showPlayer(); creator(); refresh(); });
  torrent.addEventListener('progress', refresh);
  torrent.addEventListener('peer', refresh);
  torrent.addEventListener('done', () => { showFiles(); refresh(); setTimeout(refreshStored, 500); });
  torrent.addEventListener('warning', (e) => { q('.warning').textContent = e.detail.message; });
  // A fatal error: the client stopped this torrent (it stays listed, with the reason, until
  // removed). Others (no peers yet, storage full) only say what is wrong.
  torrent.addEventListener('error', (e) => { q('.warning').textContent = e.detail.message; if (e.detail.fatal) clearInterval(timer); });
  // "Stalled" shows while nothing arrives, and goes with the next verified piece.
  let stalled = '';
  torrent.addEventListener('stalled', (e) => {
    if (q('.warning').textContent) return;
    stalled = `Stalled: nothing received for ${e.detail.seconds} s.`;
    q('.warning').textContent = stalled;
  });
  torrent.addEventListener('progress', () => {
    if (stalled && q('.warning').textContent === stalled) q('.warning').textContent = '';
    stalled = '';
  });
  torrent.addEventListener('ban', (e) => { q('.warning').textContent = `Disconnected a peer that sent corrupt data (${e.detail.reason}).`; });
  q('.copy').addEventListener('click', () => navigator.clipboard?.writeText(q('.share-link').value));
  q('.copy-embed').addEventListener('click', () => navigator.clipboard?.writeText(q('.embed-code').value));
  // Removed here or by deleting its stored copy ("Stored in this browser").
  torrent.addEventListener('removed', () => {
    clearInterval(timer);
    li.remove();
    $('empty').hidden = $('torrents').children.length > 0;
  });
  q('.remove').addEventListener('click', () => torrent.remove());
  if (torrent.stats().hasMetadata) { showShare(); showFiles(); showPlayer(); creator(); }
  refresh();
}

function drawPieces(canvas, pieces) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!pieces.length) return;
  ctx.fillStyle = '#0a66c2';
  const w = canvas.width / pieces.length;
  for (let i = 0; i < pieces.length; i++) {
    if (pieces[i]) ctx.fillRect(Math.floor(i * w), 0, Math.ceil(w), canvas.height);
  }
}

start();
