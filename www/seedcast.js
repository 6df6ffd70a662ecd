// Seedcast for web pages: a thin EventTarget layer over the wasm-bindgen classes in ./pkg.
// Types: ./seedcast.d.ts. Everything heavy (BitTorrent, WebRTC, signaling) runs in wasm.
import init, { Client, chainPreset } from './pkg/seedcast.js';
import { hostTorrent, forgetTorrent, streamURL } from './stream-host.js';

// Called by the client when wasm stopped a torrent on its own (an `error` event).
const stopped = Symbol('stopped');

let loading;
/** Loads the wasm module once (later calls share the first load). `compiled`, optional: the
 *  module compiled ahead by the page (a `WebAssembly.Module` or a promise of one, e.g.
 *  `WebAssembly.compileStreaming(fetch('pkg/seedcast_bg.wasm'))` started before this script
 *  loaded); if it fails, the module is fetched again from next to this script. */
export function loadSeedcast(compiled) {
  const url = new URL('./pkg/seedcast_bg.wasm', import.meta.url);
  loading ??= init({ module_or_path: compiled ? Promise.resolve(compiled).catch(() => fetch(url)) : url })
    .then((exports) => { performance.mark('seedcast:wasm'); return exports; });
  return loading;
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

  /** Loads the wasm module if needed and creates a client. */
  static async create(options = {}) {
    await loadSeedcast();
    return new SeedcastClient(options);
  }

  constructor(options = {}) {
    super();
    this.#wasm = new Client({ ...options, trackers: options.trackers ?? [defaultTracker()] });
    this.#wasm.setListener((infoHash, type, detail) => {
      const target = infoHash === null ? this : this.#torrents.get(infoHash);
      // The wasm side already dropped a torrent that reports an error: forget it first, so
      // listeners see it gone from `torrents` (and may add it again).
      if (type === 'error' && target instanceof SeedcastTorrent) target[stopped]();
      target?.dispatchEvent(new CustomEvent(type, { detail }));
    });
  }

  get peerId() { return this.#wasm.peerId; }
  get torrents() { return [...this.#torrents.values()]; }
  /** The chain tips go to (`ClientOptions.chain`, validated). */
  get chain() { return this.#wasm.chain; }

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

  /** RTCPeerConnections alive in this page (diagnostics and leak tests). */
  static liveConnections() { return Client.liveConnections(); }

  /** Stops every torrent, connection and timer. Later calls on this client fail. */
  destroy() {
    for (const t of this.#torrents.values()) t.remove();
    this.#wasm.destroy();
  }

  #wrap(handle) {
    const { infoHash } = handle;
    const torrent = new SeedcastTorrent(handle, () => {
      // Only this wrapper: the same torrent may have been added again since it stopped.
      if (this.#torrents.get(infoHash) !== torrent) return;
      this.#torrents.delete(infoHash);
      forgetTorrent(infoHash);
    });
    this.#torrents.set(infoHash, torrent);
    hostTorrent(torrent);
    return torrent;
  }
}

export class SeedcastTorrent extends EventTarget {
  #wasm;
  #forget;
  #urls = new Map();
  #removed = false;
  #stopped = false;

  constructor(handle, forget) {
    super();
    this.#wasm = handle;
    this.#forget = forget;
  }

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
  peers() { return this.#wasm.peers(); }
  pieces() { return this.#wasm.pieces(); }
  /** Reads a file as it downloads (see FileStream in ./pkg/seedcast.d.ts). */
  openStream(fileIndex, start = 0, end) { return this.#wasm.openStream(fileIndex, start, end); }

  /** Files with helpers to read them once done (each returns a promise: pieces are read
   *  from browser storage). */
  get files() {
    return this.#wasm.files().map((f) => ({
      ...f,
      bytes: () => this.#wasm.fileBytes(f.index),
      blob: (type) => this.#wasm.fileBlob(f.index, type),
      url: (type) => {
        if (!this.#urls.has(f.index)) {
          this.#urls.set(f.index, this.#wasm.fileBlob(f.index, type).then((b) => URL.createObjectURL(b)));
        }
        return this.#urls.get(f.index);
      },
      streamURL: () => streamURL(this, f),
    }));
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
    for (const url of this.#urls.values()) url.then((u) => URL.revokeObjectURL(u), () => {});
    this.#urls.clear();
    this.#wasm.remove();
    this.#forget();
  }
}
