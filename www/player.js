// <seedcast-player>: a video player that plays a torrent while it downloads and seeds it to
// the next viewers. One script tag:
//
//   <script type="module" src="https://your-site/player.js"></script>
//   <seedcast-player src="magnet:?xt=urn:btih:..." poster="poster.jpg"></seedcast-player>
//
// Attributes: src (magnet link), poster, trackers (comma-separated ws:// URLs; default this
// site's tracker), file (index or name; default the largest playable file), autoplay, muted,
// storage (`memory` keeps pieces in the tab only; default: the client's persistent store).
// `SeedcastPlayer.prepare({ trackers, storage })` (or customElements.get('seedcast-player')
// .prepare(...)) sets up the client and service worker before any src, so playback starts sooner.
// Property `torrent` takes a SeedcastTorrent this page already has (e.g. one it seeds); with
// property `client` (its SeedcastClient) too, the player also shows the torrent's creator.
// A torrent with a verified creator record shows the creator and a Tip button below the video
// (creator-ui.js), on the chain the site chose (chain.js): no attribute can change that chain.
//
// Design: every player of a page shares one SeedcastClient per tracker list, and a torrent
// shared by several players is added once (removed when its last player goes away, unless
// it was handed in through `torrent`). Playback goes through the service worker (sw.js),
// which only works on the origin that serves it: on a page of another origin the element
// renders an <iframe> of embed.html from this script's origin instead. Performance marks
// `seedcast-player:start|torrent|metadata|src` time the way to playback. Names and numbers
// from torrents and peers are set as text, never parsed as HTML.
import { SeedcastClient, defaultTracker, loadSeedcast } from './seedcast.js';
import { serviceWorker, streamURL } from './stream-host.js';
import { siteChain } from './chain.js';
import { showCreator, CREATOR_CSS } from './creator-ui.js';

const MODULE_URL = new URL(import.meta.url);
const PLAYABLE = /\.(mp4|m4v|mov|webm|mkv|mp3|m4a|ogg|ogv|oga|opus|wav|flac)$/i;
const SEEK_STEP = 5;

const clients = new Map(); // tracker list and storage -> Promise<SeedcastClient>
const shared = new Map(); // infoHash -> { torrent, users, owned }

// The shared clients' tips wait for this: the site's chain (chain.json) applied.
const siteChainApplied = new WeakMap(); // SeedcastClient -> Promise<void>

function sharedClient(trackers, storage) {
  const key = `${trackers.join(',')}|${storage ?? ''}`;
  if (!clients.has(key)) {
    // The client starts with the wasm, not after chain.json as well: its tracker socket and
    // offers then start 25-35 ms sooner on a cold page (traced in bench-stream: chain.json's
    // answer reached the page after the wasm, behind the first render of the player). It
    // begins on the default chain; the site's replaces it before any creator or Tip button
    // shows (`#start` waits for `siteChainApplied`).
    clients.set(key, loadSeedcast().then(() => {
      const client = new SeedcastClient({ trackers, ...(storage ? { storage } : {}) });
      siteChainApplied.set(client, siteChain().then((chain) => {
        if (chain === 'bttc') return; // the client's default
        try {
          client.setChain(chain);
        } catch (e) {
          console.error(`seedcast: the site's chain.json was refused (${e.message}); tips use the default chain, BitTorrent Chain mainnet`);
        }
      }));
      return client;
    }));
  }
  return clients.get(key);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 32 base32 digits (RFC 4648, as magnet links write info hashes) as 40 hex digits. */
function base32ToHex(text) {
  let hex = '';
  let value = 0;
  let bits = 0;
  for (const c of text.toUpperCase()) {
    value = (value << 5) | BASE32.indexOf(c);
    bits += 5;
    while (bits >= 4) {
      bits -= 4;
      hex += ((value >> bits) & 15).toString(16);
      value &= (1 << bits) - 1;
    }
  }
  return hex;
}

/** A magnet link's info hash as the client keys torrents (40 lower-case hex digits), however
 *  the link spells it (hex or base32, `xt` or `xt.1`), or undefined. Players share a torrent
 *  by this key, so the same torrent is added once. */
function magnetHash(src) {
  const query = /^magnet:\?(.*)$/is.exec(src)?.[1] ?? '';
  for (const param of query.split('&')) {
    const at = param.indexOf('=');
    if (at < 0 || !/^xt(\.\d+)?$/i.test(param.slice(0, at))) continue;
    let value;
    try { value = decodeURIComponent(param.slice(at + 1)); } catch { continue; } // the client reports it
    const hash = /^urn:btih:(?:([0-9a-f]{40})|([a-z2-7]{32}))$/i.exec(value);
    if (hash) return hash[1] ? hash[1].toLowerCase() : base32ToHex(hash[2]);
  }
  return undefined;
}

async function acquire(client, src) {
  const hash = magnetHash(src);
  let entry = hash && shared.get(hash);
  if (!entry) {
    const torrent = client.torrents.find((t) => t.infoHash === hash) ?? client.add(src);
    entry = { torrent, users: 0, owned: true };
    shared.set(torrent.infoHash, entry);
  }
  entry.users++;
  return entry.torrent;
}

function release(torrent) {
  const entry = shared.get(torrent.infoHash);
  if (!entry || --entry.users > 0) return;
  shared.delete(torrent.infoHash);
  if (entry.owned) torrent.remove();
}

function formatBytes(n) {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Before the metadata: the index `pickFile` will most likely choose (the only file of a
 *  single-file torrent, or the index asked for), or undefined for a file asked by name. */
function likelyFileIndex(choice) {
  if (choice === null || choice === '') return 0;
  return /^\d{1,6}$/.test(choice) ? Number(choice) : undefined;
}

/** The file to play: `choice` (index or name) or the largest playable one. */
function pickFile(files, choice) {
  if (choice !== null && choice !== '') {
    return files.find((f) => String(f.index) === choice || f.name === choice || f.path === choice);
  }
  const sorted = [...files].sort((a, b) => b.length - a.length);
  return sorted.find((f) => PLAYABLE.test(f.name)) ?? sorted[0];
}

// A constructed stylesheet, not a <style> element: the app's CSP allows no inline styles.
const STYLE = `
:host { display: block; position: relative; background: #000; color: #eee; font: 13px system-ui, sans-serif; }
:host(:focus-visible) { outline: 3px solid #4a9eff; outline-offset: 2px; }
video { display: block; width: 100%; height: auto; max-height: var(--seedcast-max-height, 80vh); background: #000; }
.bar { display: block; width: 100%; height: 8px; background: #333; }
.status { margin: 0; padding: 4px 8px; background: #111; min-height: 1.4em; }
.error { margin: 0; padding: 4px 8px; background: #5a1010; }
.error:empty { display: none; }
iframe { display: block; width: 100%; aspect-ratio: 16 / 9; border: 0; }
${CREATOR_CSS}`;
let sheet;
function styleSheet() {
  if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(STYLE); }
  return sheet;
}

export class SeedcastPlayer extends HTMLElement {
  static observedAttributes = ['src', 'poster'];

  /** Sets up, ahead of the first `src`, what it would otherwise wait for: the wasm, the
   *  page's shared client for `trackers` and `storage` (as the attributes of the players to
   *  come will name them: default this site's tracker and persistent storage; with it the
   *  client's spare WebRTC offers) and the streaming service worker (`serviceWorker`: the URL
   *  sw.js is served at; default next to this module). Resolves once all are ready; rejects
   *  where service workers are unavailable (players then wait for the whole file before
   *  playing). */
  static async prepare({ trackers, storage, serviceWorker: script } = {}) {
    const list = trackers?.length ? trackers : [defaultTracker()];
    // The client's spare offers too: a `src` set right after then announces at once.
    await Promise.all([sharedClient(list, storage || undefined).then((c) => c.offersReady()), serviceWorker(script)]);
  }
  #root;
  #video;
  #status;
  #bar;
  #error;
  #creator;
  #torrent;
  #given;
  #givenClient;
  #file;
  #timer;
  // Aborted when playback stops: removes the listeners on the (shared) client and torrent.
  #listening = new AbortController();
  #generation = 0;
  #onKey = (e) => this.#key(e);

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.adoptedStyleSheets = [styleSheet()];
  }

  /** The <video> element (for scripts and tests). */
  get video() { return this.#video; }
  /** The SeedcastTorrent being played, once known. */
  get torrent() { return this.#torrent; }
  /** Plays a torrent this page already has (e.g. one it is seeding) instead of `src`. */
  set torrent(torrent) { this.#given = torrent; if (this.isConnected) this.#start(); }
  /** The SeedcastClient of a `torrent` handed in (shows its creator line and Tip button). */
  set client(client) { this.#givenClient = client; if (this.isConnected && this.#given) this.#start(); }
  /** The file being played (a SeedcastFile), once the metadata is known. */
  get file() { return this.#file; }

  connectedCallback() {
    if (!this.hasAttribute('tabindex')) this.tabIndex = 0;
    if (!this.hasAttribute('role')) this.setAttribute('role', 'region');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'Video player');
    this.addEventListener('keydown', this.#onKey);
    this.#start();
  }

  disconnectedCallback() {
    this.removeEventListener('keydown', this.#onKey);
    this.#stop();
  }

  attributeChangedCallback(name, old, value) {
    if (!this.isConnected || old === value) return;
    if (name === 'poster') { if (this.#video) this.#video.poster = value ?? ''; return; }
    this.#start();
  }

  #stop() {
    this.#generation++;
    this.#listening.abort();
    this.#listening = new AbortController();
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#video) { this.#video.removeAttribute('src'); this.#video.load(); }
    if (this.#torrent && this.#torrent !== this.#given) release(this.#torrent);
    this.#torrent = undefined;
    this.#file = undefined;
  }

  #render() {
    if (MODULE_URL.origin !== location.origin) {
      // The service worker can only serve the origin it comes from: embed that origin's page.
      const frame = document.createElement('iframe');
      const params = new URLSearchParams();
      for (const a of ['poster', 'trackers', 'file', 'autoplay', 'muted', 'storage']) if (this.hasAttribute(a)) params.set(a, this.getAttribute(a) ?? '');
      // The fragment carries the magnet as written (embed.html does not decode it); a `#` in it
      // would end the fragment, and %23 reads the same to the magnet parser.
      frame.src = `${new URL('embed.html', MODULE_URL).href}?${params}#${(this.getAttribute('src') ?? '').replaceAll('#', '%23')}`;
      frame.allow = 'autoplay; fullscreen';
      frame.allowFullscreen = true;
      frame.title = this.getAttribute('aria-label') ?? 'Video player';
      this.#root.replaceChildren(frame);
      this.#video = undefined;
      return false;
    }
    if (this.#video?.parentNode === this.#root) {
      // The next link reuses the <video>: a new one rebuilds its controls (SVG icon documents,
      // layout), a ~50 ms main-thread task traced right after `src`, on the first frame's path.
      this.#video.poster = this.getAttribute('poster') ?? '';
      this.#video.muted = this.hasAttribute('muted');
      this.#video.autoplay = this.hasAttribute('autoplay');
      this.#status.textContent = 'Starting…';
      this.#error.textContent = '';
      this.#creator.hidden = true;
      this.#creator.replaceChildren();
      return true;
    }
    this.#video = document.createElement('video');
    this.#video.controls = true;
    this.#video.playsInline = true;
    this.#video.preload = 'auto';
    this.#video.muted = this.hasAttribute('muted');
    this.#video.autoplay = this.hasAttribute('autoplay');
    this.#video.poster = this.getAttribute('poster') ?? '';
    this.#video.setAttribute('aria-label', 'Video');
    this.#bar = document.createElement('canvas');
    this.#bar.className = 'bar';
    this.#bar.height = 8;
    this.#bar.setAttribute('role', 'img');
    this.#bar.setAttribute('aria-label', 'Downloaded and buffered parts of the video');
    this.#status = document.createElement('p');
    this.#status.className = 'status';
    this.#status.setAttribute('role', 'status');
    this.#status.textContent = 'Starting…';
    this.#error = document.createElement('p');
    this.#error.className = 'error';
    this.#error.setAttribute('role', 'alert');
    // Below the video, never over its controls.
    this.#creator = document.createElement('div');
    this.#creator.hidden = true;
    this.#root.replaceChildren(this.#video, this.#bar, this.#status, this.#creator, this.#error);
    return true;
  }

  async #start() {
    this.#stop();
    const generation = this.#generation;
    if (!this.#render()) return;
    const src = this.getAttribute('src')?.trim();
    if (!this.#given && !src) { this.#status.textContent = 'No video link (set the src attribute).'; return; }
    // Register the service worker while peers and metadata are found (it is needed last).
    serviceWorker().catch(() => {});
    const mark = (name) => performance.mark(`seedcast-player:${name}`);
    mark('start');
    try {
      const trackers = (this.getAttribute('trackers') ?? '').split(',').map((t) => t.trim()).filter(Boolean);
      const client = this.#given ? this.#givenClient : await sharedClient(trackers.length ? trackers : [defaultTracker()], this.getAttribute('storage') || undefined);
      const torrent = this.#given ?? await acquire(client, src);
      if (generation !== this.#generation) { if (torrent !== this.#given) release(torrent); return; }
      this.#torrent = torrent;
      // Problems the viewer should see (no tracker, no peers, storage full) while it goes on.
      const show = (e) => { if (!e.detail.fatal) this.#error.textContent = e.detail.message; };
      client?.addEventListener('error', show, { signal: this.#listening.signal });
      torrent.addEventListener('error', show, { signal: this.#listening.signal });
      torrent.addEventListener('peer', () => { if (/no peer/.test(this.#error.textContent)) this.#error.textContent = ''; }, { signal: this.#listening.signal });
      // A page's own client (`client` property) has its chain already; a shared one waits
      // for the site's.
      const creator = () => {
        if (!client) return;
        Promise.resolve(siteChainApplied.get(client)).then(() => {
          if (generation === this.#generation) showCreator(this.#creator, torrent, client);
        });
      };
      mark('torrent');
      this.#timer = setInterval(() => this.#refresh(), 500);
      this.#refresh();
      let early; // { index, name }: the file the <video>'s URL named before the metadata
      let picked = false; // the metadata chose the file: no early URL after this
      if (!torrent.stats().hasMetadata) {
        // Start the <video>'s load now, on the file it will most likely play: its request
        // then crosses the service worker and reaches this page while the metadata is on its
        // way, and waits here for it (stream-host.js), instead of starting after it (traced:
        // 80-150 ms from `src` to the request reaching the page; A/B in bench-stream, 6 views
        // each: warm first frame 240 vs 300 ms, cold unchanged at ~530). A wrong
        // guess (a torrent of several files, or a link whose name is not the file's) is
        // replaced once the metadata names the file, so the URL always ends in its real name.
        const guess = { index: likelyFileIndex(this.getAttribute('file')), name: torrent.name ?? '' };
        if (guess.index !== undefined) {
          streamURL(torrent, guess).then((url) => {
            if (generation !== this.#generation || picked) return;
            early = guess;
            this.#video.src = url;
            mark('src');
          }, () => {}); // no service worker: the fallback below says so
        }
        this.#status.textContent = 'Finding peers…';
        // (The client's fast start already asks for file 0's start with the metadata.)
        // A torrent the client stops (e.g. pieces too large for a tab) never gets its metadata.
        await new Promise((resolve, reject) => {
          torrent.addEventListener('metadata', resolve, { once: true });
          torrent.addEventListener('error', (e) => { if (e.detail.fatal) reject(new Error(e.detail.message)); }, { signal: this.#listening.signal });
        });
        if (generation !== this.#generation) return;
      }
      mark('metadata');
      creator();
      const file = pickFile(torrent.files, this.getAttribute('file'));
      picked = true;
      if (!file) {
        if (early) { this.#video.removeAttribute('src'); this.#video.load(); }
        throw new Error('this torrent has no such file');
      }
      this.#file = file;
      // The early request serves this file unless it failed meanwhile (the service worker
      // gives up on a page that has no metadata after 30 s).
      if (early?.index !== file.index || early.name !== file.name || this.#video.error) {
        let url;
        try {
          url = await file.streamURL();
        } catch (e) {
          // No service worker here: play once the whole file has arrived.
          this.#error.textContent = `Streaming is not available (${e.message}); the video plays once downloaded.`;
          if (!torrent.stats().done) await new Promise((resolve) => torrent.addEventListener('done', resolve, { once: true }));
          url = await torrent.files.find((f) => f.index === file.index).url();
        }
        if (generation !== this.#generation) return;
        this.#video.src = url;
        mark('src');
      }
      this.dispatchEvent(new CustomEvent('ready', { detail: { file: file.name } }));
    } catch (e) {
      if (generation === this.#generation) this.#error.textContent = `Cannot play this: ${e.message}`;
    }
  }

  #refresh() {
    const torrent = this.#torrent;
    if (!torrent) return;
    let s;
    try { s = torrent.stats(); } catch { return; } // removed elsewhere
    const name = this.#file?.path ?? torrent.name ?? '';
    const peers = `${s.peers} peer${s.peers === 1 ? '' : 's'}`;
    const done = s.done ? 'downloaded' : `${(s.progress * 100).toFixed(0)}% downloaded`;
    this.#status.textContent = `${name ? `${name} · ` : ''}${peers} · ↓ ${formatBytes(s.downloadSpeed)}/s · ↑ ${formatBytes(s.uploadSpeed)}/s · ${done}`;
    this.#drawBar(torrent, s);
  }

  /** Top half: verified pieces of the file; bottom half: what the video has buffered. */
  #drawBar(torrent, s) {
    const canvas = this.#bar;
    const width = Math.max(1, canvas.clientWidth || 600);
    if (canvas.width !== width) canvas.width = width;
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, width, 8);
    const file = this.#file;
    const pieces = torrent.pieces();
    if (file && pieces.length && s.length) {
      const per = s.length / pieces.length; // bytes per piece (the last one may be shorter)
      const first = Math.floor(file.offset / per);
      const last = Math.min(pieces.length - 1, Math.floor((file.offset + Math.max(0, file.length - 1)) / per));
      const w = width / (last - first + 1);
      ctx.fillStyle = '#2f80ed';
      // One rectangle per run of verified pieces, not per piece: a 20 MB video of 16 KiB
      // pieces is 1,221 pieces, redrawn every 500 ms on the main thread the stream needs.
      for (let i = first; i <= last; i++) {
        if (!pieces[i]) continue;
        let end = i;
        while (end < last && pieces[end + 1]) end++;
        ctx.fillRect(Math.floor((i - first) * w), 0, Math.ceil((end - i + 1) * w), 4);
        i = end;
      }
    }
    const video = this.#video;
    if (video && video.duration > 0 && Number.isFinite(video.duration)) {
      ctx.fillStyle = '#9ad17a';
      for (let i = 0; i < video.buffered.length; i++) {
        const a = video.buffered.start(i) / video.duration;
        const b = video.buffered.end(i) / video.duration;
        ctx.fillRect(Math.floor(a * width), 4, Math.max(1, Math.ceil((b - a) * width)), 4);
      }
      ctx.fillStyle = '#fff';
      ctx.fillRect(Math.floor((video.currentTime / video.duration) * width), 0, 2, 8);
    }
  }

  #key(e) {
    const video = this.#video;
    if (!video || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    // Keys typed in the creator line or tip dialog (Space on the Tip button, text) are theirs.
    if (this.#creator?.contains(e.composedPath()[0])) return;
    switch (e.key) {
      case ' ': case 'k': case 'K': video.paused ? video.play().catch(() => {}) : video.pause(); break;
      case 'ArrowLeft': video.currentTime = Math.max(0, video.currentTime - SEEK_STEP); break;
      case 'ArrowRight': video.currentTime = Math.min(video.duration || Infinity, video.currentTime + SEEK_STEP); break;
      case 'm': case 'M': video.muted = !video.muted; break;
      case 'f': case 'F':
        if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
        else this.requestFullscreen?.().catch(() => {});
        break;
      default: return;
    }
    e.preventDefault();
  }
}

if (!customElements.get('seedcast-player')) customElements.define('seedcast-player', SeedcastPlayer);
