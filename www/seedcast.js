// Seedcast for web pages: a thin EventTarget layer over the wasm-bindgen classes in ./pkg.
// Types: ./seedcast.d.ts. Everything heavy (BitTorrent, WebRTC, signaling) runs in wasm.
import init, { Client, chainPreset, WarmUp } from './pkg/seedcast.js';
import { hostTorrent, forgetTorrent, streamURL, serviceWorker, streams } from './stream-host.js';
import { TorrentWatch, TrackerWatch, timeoutOption, NO_PEERS_TIMEOUT, STALL_TIMEOUT } from './health.js';

// Called by the client when wasm stopped a torrent on its own (a fatal `error` event).
const stopped = Symbol('stopped');
// Called by the stream host (stream-host.js, maybe another copy's) when a stream of the
// torrent opens (see `#warmup`).
const streamStarted = Symbol.for('seedcast.streamStarted');
// How often the client looks at its torrents' health (health.js), in ms.
const WATCH_MS = 1000;
// A magnet's warm-up stream (see `SeedcastTorrent.#warmup`) lasts this long after the metadata
// when no stream takes over (a player's takes over within ~100 ms).
const WARMUP_AFTER_METADATA_MS = 3_000;

// Longest stretch of the warm-up (`warmUpSoon`) in one task, in ms.
const WARM_UP_SLICE_MS = 4;

let loading;
/** Loads the wasm module once (later calls share the first load). `compiled`, optional: the
 *  module compiled ahead by the page (a `WebAssembly.Module` or a promise of one, e.g.
 *  `WebAssembly.compileStreaming(fetch('pkg/seedcast_bg.wasm'))` started before this script
 *  loaded); if it fails, the module is fetched again from next to this script. */
export function loadSeedcast(compiled) {
  const url = new URL('./pkg/seedcast_bg.wasm', import.meta.url);
  loading ??= init({ module_or_path: compiled ? Promise.resolve(compiled).catch(() => fetch(url)) : url })
    .then((exports) => { performance.mark('seedcast:wasm'); warmUpSoon(); return exports; },
      (e) => { loading = undefined; throw new Error(`cannot load Seedcast's wasm (${url.href}): ${e?.message ?? e}`); });
  return loading;
}

/** Runs the wasm's download path once on a small in-memory transfer (`WarmUp`, see
 *  crate/src/engine/warm_up.rs) in idle moments after loading: the browser then compiles
 *  that code before the first real piece, not during it (~25 ms of work on an idle page).
 *  A/B in bench-stream (memory, unlimited, 6 views each, alternating): first frame warm 238
 *  vs 333 ms, cold 533 vs 617 ms without. Four rounds (more functions optimised) gave warm
 *  218 vs 297 but cold 611 vs 509: one. Run as one task, it could fall on the moment a cold
 *  page's first offers were ready and delay its first announce by ~50 ms (traced), hence
 *  slices of WARM_UP_SLICE_MS in idle moments (see `idle`; A/B against one task, 6 views each:
 *  cold 547 vs 518 ms, warm 284 vs 236: no difference this bench can resolve; kept because
 *  a 25-50 ms task can only delay whatever network event arrives during it).
 *  Tried: the same in a module worker (V8 shares compiled wasm code between a process's
 *  threads: the page's first warm-up then took 4 ms instead of 21-31). On this 2-core
 *  machine its thread and instance competed with the cold start: 12 alternating views,
 *  cold 652 vs 509 ms, warm 249 vs 227 ms against the main thread. */
function warmUpSoon() {
  let job;
  const slice = () => {
    try {
      const until = performance.now() + WARM_UP_SLICE_MS;
      // Made in the first slice, not before it: made at load (the warm-up torrent's content
      // and builder) it took 12-37 ms in the task that goes on to make the client, its
      // tracker socket and offers (traced in bench-stream, cold pages). A/B, 10 alternating
      // cold views each in two runs: first frame 1212 vs 1580 ms (medians), metadata 929-965
      // vs 1008-1123.
      job ??= new WarmUp();
      do {
        if (job.step()) { job.free(); return; }
      } while (performance.now() < until);
    } catch {
      // An optimisation only: a failure ends it.
      try { job?.free(); } catch { /* the instance failed: nothing left to free */ }
      return;
    }
    idle(slice);
  };
  idle(slice);
}

/** Runs `task` when the page is idle (or after a second at the latest). A cold page is busy
 *  from its first script to its first frame (traced: its main thread 90% busy over the first
 *  500 ms), and background-priority tasks still ran in that window's gaps: the warm-up's
 *  slices fell on the arrival of the metadata and the first pieces (26-34 ms of them in the
 *  300-360 ms before the metadata, traced), and the optimising compiles they started ran on
 *  the same two cores as the video's first decode. A/B in bench-stream (memory, unlimited,
 *  12 alternating cold views each, two runs): first frame 508 and 493 ms (medians) against
 *  610 and 513 at background priority; warm views unchanged (the warm-up is done long
 *  before a prepared page's `src`). */
function idle(task) {
  if (globalThis.requestIdleCallback) requestIdleCallback(task, { timeout: 1000 });
  else if (globalThis.scheduler?.postTask) globalThis.scheduler.postTask(task, { priority: 'background' }).catch(() => {});
  else setTimeout(task, 0);
}

/** Chain presets for `ClientOptions.chain` (read after `loadSeedcast()`): BitTorrent Chain
 *  mainnet (id 199, the default) and its Donau testnet (id 1029). */
export const chains = Object.freeze({
  get bttc() { return chainPreset('bttc'); },
  get donau() { return chainPreset('donau'); },
});

/** The tracker of the server this page came from. */
export function defaultTracker() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
}

export class SeedcastClient extends EventTarget {
  #wasm;
  #torrents = new Map();
  #watches = new Map(); // infoHash -> TorrentWatch
  #watchTimer;
  #watchOptions;

  /** Loads the wasm module if needed and creates a client. */
  static async create(options = {}) {
    await loadSeedcast();
    return new SeedcastClient(options);
  }

  constructor(options = {}) {
    super();
    this.#watchOptions = {
      noPeersTimeout: timeoutOption('noPeersTimeout', options.noPeersTimeout, NO_PEERS_TIMEOUT),
      stallTimeout: timeoutOption('stallTimeout', options.stallTimeout, STALL_TIMEOUT),
    };
    const trackers = options.trackers ?? [defaultTracker()];
    this.#wasm = new Client({ ...options, trackers });
    const trackerWatch = new TrackerWatch(trackers, options.trackers === undefined);
    this.#wasm.setListener((infoHash, type, detail) => {
      const target = infoHash === null ? this : this.#torrents.get(infoHash);
      // The wasm side already dropped a torrent whose error is fatal: forget it first, so
      // listeners see it gone from `torrents` (and may add it again).
      if (type === 'error' && detail?.fatal && target instanceof SeedcastTorrent) target[stopped]();
      target?.dispatchEvent(new CustomEvent(type, { detail }));
      if (type === 'tracker' && infoHash === null) this.#signal(this, trackerWatch.observe(detail));
    });
    if (typeof globalThis.RTCPeerConnection !== 'function') {
      // A macrotask: listeners added right after `create()` resolves still hear it.
      setTimeout(() => this.#signal(this, {
        type: 'error',
        detail: { code: 'webrtc-unavailable', fatal: false, message: 'this browser has no WebRTC (RTCPeerConnection), so it cannot reach peers; web seeds still work' },
      }));
    }
  }

  #signal(target, signal) {
    if (signal) target.dispatchEvent(new CustomEvent(signal.type, { detail: signal.detail }));
  }

  /** Once a second: each torrent's health (no peers, stalled), see health.js. */
  #watch() {
    const now = performance.now();
    for (const [infoHash, watch] of this.#watches) {
      const torrent = this.#torrents.get(infoHash);
      let stats;
      try { stats = torrent?.stats(); } catch { stats = undefined; }
      if (!stats) { this.#watches.delete(infoHash); continue; }
      for (const signal of watch.observe(stats, now)) this.#signal(torrent, signal);
    }
    if (this.#watches.size === 0) { clearInterval(this.#watchTimer); this.#watchTimer = undefined; }
  }

  /** Registers the streaming service worker now, so the first `streamURL()` does not wait for
   *  it (once per page; see seedcast.d.ts for the scope rules). */
  serviceWorker(script, scope) { return serviceWorker(script, scope); }

  get peerId() { return this.#wasm.peerId; }
  get torrents() { return [...this.#torrents.values()]; }

  /** The torrent with this info hash (40 hex digits, any case) or magnet link, if added. */
  get(id) {
    const text = String(id ?? '');
    const hex = /^[0-9a-f]{40}$/i.test(text) ? text : /xt=urn:btih:([0-9a-f]{40})(?:&|$)/i.exec(text)?.[1];
    return hex ? this.#torrents.get(hex.toLowerCase()) : undefined;
  }

  /** Removes the torrent with this info hash or magnet link (see `SeedcastTorrent.remove`). */
  remove(id) { this.get(id)?.remove(); }
  /** The chain tips go to (`ClientOptions.chain`, validated). */
  get chain() { return this.#wasm.chain; }
  /** Changes the chain tips go to, validated as `ClientOptions.chain` (throws and keeps the
   *  old one if refused). A tip already under way keeps the chain it started with. */
  setChain(chain) { this.#wasm.setChain(chain); }

  /** The browser wallets in this page: EIP-6963 announcements (`window.ethereum` when
   *  none announces), `[{ uuid, name, rdns, icon }]`. */
  wallets() { return this.#wasm.wallets(); }

  /** A creator's channel from `server` (default: this page's origin), verified in wasm:
   *  `null`, or `{ address, verified, reason?, name?, sequence?, works }`. */
  channel(address, server) { return this.#wasm.channel(address, server ?? undefined); }

  /** Tips `address` received per work through the chain's TipJar (its logs, read from
   *  `chain.rpcUrls`); each call reads only new blocks. */
  tips(address) { return this.#wasm.tips(address); }

  /** Downloads from a magnet link or the bytes of a .torrent file. */
  add(source) {
    const handle = typeof source === 'string'
      ? this.#wasm.addMagnet(source)
      : this.#wasm.addTorrentFile(source instanceof ArrayBuffer ? new Uint8Array(source) : source);
    return this.#wrap(handle);
  }

  /** Hashes files (File, FileList, File[], Blob or bytes) in the page and seeds them. */
  async seed(input, options = {}) {
    return this.#wrap(await this.#wasm.seed(input, options));
  }

  /** What this site keeps in browser storage (every tab): `[{ infoHash, name, length,
   *  storedBytes, storedPieces }]`. Stored torrents resume without downloading again. */
  stored() { return this.#wasm.stored(); }

  /** Deletes what is stored for one torrent (removing it from this client first), or for
   *  every torrent when called without an info hash. */
  async clearStored(infoHash) {
    const hexes = infoHash ? [infoHash.toLowerCase()] : (await this.stored()).map((t) => t.infoHash);
    for (const hex of hexes) this.#torrents.get(hex)?.remove();
    await this.#wasm.clearStored(infoHash ?? undefined);
  }

  /** Resolves once the client's spare WebRTC offers are made: an `add()` after it announces
   *  at once. */
  offersReady() { return this.#wasm.offersReady(); }

  /** RTCPeerConnections alive in this page (diagnostics and leak tests). */
  static liveConnections() { return Client.liveConnections(); }

  /** Stops every torrent, connection and timer. Later calls on this client fail. */
  destroy() {
    for (const t of this.#torrents.values()) t.remove();
    clearInterval(this.#watchTimer);
    this.#watchTimer = undefined;
    this.#wasm.destroy();
  }

  #wrap(handle) {
    const { infoHash } = handle;
    const torrent = new SeedcastTorrent(handle, () => {
      forgetTorrent(torrent);
      // Only this wrapper: the same torrent may have been added again since it stopped.
      if (this.#torrents.get(infoHash) !== torrent) return;
      this.#torrents.delete(infoHash);
      this.#watches.delete(infoHash);
    });
    this.#torrents.set(infoHash, torrent);
    this.#watches.set(infoHash, new TorrentWatch(this.#watchOptions, performance.now()));
    this.#watchTimer ??= setInterval(() => this.#watch(), WATCH_MS);
    hostTorrent(torrent);
    return torrent;
  }
}

/** A file read as it downloads (`SeedcastTorrent.openStream`): `next()` chunks, or
 *  `for await`. `close()` is the one way to end it (it also frees its wasm memory). */
class SeedcastStream {
  #stream;

  constructor(stream) { this.#stream = stream; }

  /** The next chunk (at most 1 MiB), or undefined at the end. `spare`: a chunk you are done
   *  with, whose buffer is reused. */
  next(spare) {
    if (!this.#stream) return Promise.reject(new Error('this stream is closed'));
    return this.#stream.next(spare);
  }

  /** Ends the stream: releases its streaming window and its memory. Safe to call again. */
  close() {
    const stream = this.#stream;
    if (!stream) return;
    this.#stream = undefined;
    try { stream.close(); } catch { /* its torrent was removed: nothing left to release */ }
    stream.free();
  }

  get closed() { return !this.#stream; }

  async *[Symbol.asyncIterator]() {
    try {
      for (let chunk = await this.next(); chunk; chunk = await this.next()) yield chunk;
    } finally {
      this.close();
    }
  }
}

/** One file of a torrent. The same object for the torrent's life (`files[0] === files[0]`);
 *  `progress` and `done` are read live. */
class SeedcastFile {
  #torrent;
  #wasm;
  #url;

  constructor(torrent, wasm, info) {
    this.#torrent = torrent;
    this.#wasm = wasm;
    this.index = info.index;
    this.name = info.name;
    this.path = info.path;
    this.length = info.length;
    this.offset = info.offset;
    Object.freeze(this);
  }

  #live() { return this.#wasm.files().find((f) => f.index === this.index); }
  get progress() { return this.#live()?.progress ?? 0; }
  get done() { return this.#live()?.done ?? false; }

  bytes() { return this.#wasm.fileBytes(this.index); }
  blob(type) { return this.#wasm.fileBlob(this.index, type); }
  url(type) {
    this.#url ??= this.#wasm.fileBlob(this.index, type).then((b) => URL.createObjectURL(b));
    return this.#url;
  }
  streamURL() { return streamURL(this.#torrent, this); }
  /** Revokes the object URL (called when the torrent is removed). */
  revoke() { this.#url?.then((u) => URL.revokeObjectURL(u), () => {}); }
  toJSON() { return { index: this.index, name: this.name, path: this.path, length: this.length, offset: this.offset, progress: this.progress, done: this.done }; }
}

export class SeedcastTorrent extends EventTarget {
  #wasm;
  #forget;
  #files;
  #removed = false;
  #stopped = false;
  // A magnet's fast start, on a page that streams (it registered the streaming worker, as the
  // player and `client.serviceWorker()` do): a stream on the start of file 0, opened before the
  // metadata, so the engine asks for the first pieces the moment the metadata arrives (most
  // video torrents hold one file). Closed when a real stream opens, the torrent is done or
  // removed, or 3 s after the metadata with no stream. Not on other pages: every leecher of a
  // swarm asking for the same first pieces made the seeder send them several times (browser
  // swarm bench: 1.20-1.42x T* and the content sent 1.30-1.53x, against 1.10-1.15x before).
  #warmup;
  #warmupTimer;

  constructor(handle, forget) {
    super();
    this.#wasm = handle;
    this.#forget = forget;
    if (streams() && !handle.stats().hasMetadata) {
      this.#warmup = this.openStream(0, 0);
      const end = () => this.#endWarmup();
      this.addEventListener('metadata', () => { this.#warmupTimer = setTimeout(end, WARMUP_AFTER_METADATA_MS); }, { once: true });
      this.addEventListener('done', end, { once: true });
    }
  }

  #endWarmup() {
    clearTimeout(this.#warmupTimer);
    this.#warmup?.close();
    this.#warmup = undefined;
  }

  /** A stream of this torrent opened for a reader (the stream host calls this). */
  [streamStarted]() { this.#endWarmup(); }

  get infoHash() { return this.#wasm.infoHash; }
  get name() { return this.#wasm.name; }
  get magnetURI() { return this.#wasm.magnetURI; }
  /** `null` or `{ address, name, verified, reason? }`, known with the metadata. */
  get creator() { return this.#wasm.creator; }
  /** Tips the verified creator `amount` BTT (a decimal string) from a browser wallet. */
  tip(amount, options) { return this.#wasm.tip(amount, options); }
  /** Adds this torrent to the wallet account's channel, wallet-signed: `{ url, sequence }`. */
  publishToChannel(options) { return this.#wasm.publishToChannel(options); }
  torrentFile() { return this.#wasm.torrentFile(); }
  stats() { return this.#wasm.stats(); }
  // WebTorrent's names for the numbers users read most (each reads `stats()`).
  get progress() { return this.stats().progress; }
  get downloadSpeed() { return this.stats().downloadSpeed; }
  get uploadSpeed() { return this.stats().uploadSpeed; }
  get downloaded() { return this.stats().downloaded; }
  get uploaded() { return this.stats().uploaded; }
  get numPeers() { return this.stats().peers; }
  get done() { return this.stats().done; }
  get length() { return this.stats().length; }
  get pieceLength() { return this.stats().pieceLength; }
  peers() { return this.#wasm.peers(); }
  pieces() { return this.#wasm.pieces(); }
  /** Reads a file as it downloads (a SeedcastStream; close it when done). */
  openStream(fileIndex, start = 0, end) { return new SeedcastStream(this.#wasm.openStream(fileIndex, start, end)); }

  /** The files (empty until the metadata is known), the same objects every time. */
  get files() {
    if (!this.#files) {
      const list = this.#wasm.files();
      if (list.length === 0) return [];
      this.#files = Object.freeze(list.map((f) => new SeedcastFile(this, this.#wasm, f)));
    }
    return this.#files;
  }

  /** Stops the torrent and frees its connections, memory and object URLs. What is in
   *  browser storage stays (see `SeedcastClient.clearStored`). Later calls on this torrent
   *  throw "this torrent was removed". */
  remove() {
    if (this.#removed) return;
    this.#removed = true;
    this[stopped]();
    this.dispatchEvent(new CustomEvent('removed'));
  }

  /** Frees what the page holds for this torrent (wasm already stopped it, or is told to). */
  [stopped]() {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#endWarmup();
    for (const file of this.#files ?? []) file.revoke();
    this.#wasm.remove();
    this.#forget();
  }
}
