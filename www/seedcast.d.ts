// Types for ./seedcast.js. The data shapes come from the generated ./pkg/seedcast.d.ts.
import type { ClientOptions, SeedOptions, TorrentStats, WebSeedInfo, FileInfo, PeerInfo, StoredTorrent, Chain, ChainInput, WalletInfo, Creator, TipOptions, TipResult, TipStage, ChannelView, PublishOptions, PublishResult, CreatorTips, WorkTips } from './pkg/seedcast.js';
export type { ClientOptions, SeedOptions, TorrentStats, WebSeedInfo, FileInfo, PeerInfo, StoredTorrent, Chain, ChainInput, WalletInfo, Creator, TipOptions, TipResult, TipStage, ChannelView, PublishOptions, PublishResult, CreatorTips, WorkTips };

/** Why a `tip()` or a creator `seed()` failed: `Error.code`. */
export type TipErrorCode = 'no-wallet' | 'rejected' | 'wrong-chain' | 'insufficient-funds' | 'unverified-creator' | 'invalid-amount' | 'failed';
export interface TipError extends Error { code: TipErrorCode }

/** Chain presets (read them after `loadSeedcast()`): mainnet id 199 (default), Donau id 1029. */
export const chains: { readonly bttc: Chain; readonly donau: Chain };

/** Loads the wasm module once (`pkg/seedcast_bg.wasm`, next to this module). `compiled`: the
 *  module already compiled by the page (e.g. `WebAssembly.compileStreaming(fetch(...))` started
 *  before this script loaded); on failure the module is fetched again. Rejects when the wasm
 *  cannot be fetched or instantiated (e.g. a page CSP without `'wasm-unsafe-eval'`); a later
 *  call tries again. */
export function loadSeedcast(compiled?: WebAssembly.Module | Promise<WebAssembly.Module>): Promise<unknown>;
/** `ws://` or `wss://` + this page's host. */
export function defaultTracker(): string;

export interface TrackerEventDetail { url: string; connected: boolean; message?: string; retryInSeconds?: number }
export interface PeerEventDetail { peerId?: string; connected: boolean; peers: number; reason?: string }
export interface BanEventDetail { peerId?: string; reason: string }
export interface MessageDetail { message: string }
/** A warning; when a peer was penalised (refused for a while for flooding, breaking the
 *  protocol or not reading) also its id, the reason and for how many seconds. */
export interface WarningDetail extends MessageDetail { peerId?: string; reason?: string; seconds?: number }

/** `error` codes. Client: `no-tracker` (every tracker failed to connect; it keeps retrying),
 *  `webrtc-unavailable` (no RTCPeerConnection in this browser). Torrent: `no-peers` (no peer or
 *  web seed for `noPeersTimeout` seconds; it keeps looking), `storage-quota` (the browser
 *  refused to store more: the rest stays in memory), `storage-failed` (browser storage failed
 *  or is unavailable: pieces stay in memory), `unsupported-torrent` (fatal: e.g. pieces too
 *  large for a browser tab). */
export type SeedcastErrorCode = 'no-tracker' | 'webrtc-unavailable' | 'no-peers' | 'storage-quota' | 'storage-failed' | 'unsupported-torrent';
/** An `error` event's detail. `fatal`: the torrent was stopped and is gone from
 *  `client.torrents`; otherwise it carries on and the page may show `message` (one plain line). */
export interface ErrorDetail { code: SeedcastErrorCode; message: string; fatal: boolean }
/** `stalled`: nothing arrived for `seconds` (`peers` connected at that moment). */
export interface StalledDetail { seconds: number; peers: number; hasMetadata: boolean }

export interface SeedcastClientEventMap {
  /** A tracker connected or disconnected (with why, and when it retries). */
  tracker: CustomEvent<TrackerEventDetail>;
  /** `no-tracker` or `webrtc-unavailable` (never fatal). */
  error: CustomEvent<ErrorDetail>;
}
export interface SeedcastTorrentEventMap {
  /** The torrent's metadata (name, files) is known. */
  metadata: CustomEvent<undefined>;
  /** File data can be read as pieces arrive. */
  ready: CustomEvent<undefined>;
  /** One or more pieces were verified. */
  progress: CustomEvent<undefined>;
  /** A peer joined or left. */
  peer: CustomEvent<PeerEventDetail>;
  /** Every piece is verified. */
  done: CustomEvent<undefined>;
  /** A peer sent bad data and was banned. */
  ban: CustomEvent<BanEventDetail>;
  /** Something failed but the torrent carries on (a bad peer, a failed piece, a web seed). */
  warning: CustomEvent<WarningDetail>;
  /** Something the page should show, with a `code`: `no-peers`, `storage-quota`,
   *  `storage-failed` (the torrent carries on), or `unsupported-torrent` with `fatal: true`
   *  (it was stopped and is gone from `client.torrents`; `remove()` still works). */
  error: CustomEvent<ErrorDetail>;
  /** Nothing arrived for `stallTimeout` seconds while unfinished (once; the next `progress`
   *  means it moves again). */
  stalled: CustomEvent<StalledDetail>;
  /** `remove()` ran (directly or through `clearStored`). */
  removed: CustomEvent<undefined>;
}

/**
 * A BitTorrent client in this page: finds peers through WebSocket trackers, talks to them over
 * WebRTC data channels, downloads and seeds torrents. Events: see `SeedcastClientEventMap`.
 *
 * @example
 * ```js
 * import { SeedcastClient } from 'seedcast';
 * const client = await SeedcastClient.create({ trackers: ['wss://tracker.example'] });
 * client.addEventListener('error', (e) => console.warn(e.detail.code, e.detail.message));
 * const torrent = client.add('magnet:?xt=urn:btih:…');
 * torrent.addEventListener('done', async () => console.log(await torrent.files[0].blob()));
 * ```
 */
export class SeedcastClient extends EventTarget {
  /** Loads the wasm module if needed and creates a client (see the constructor's options and
   *  errors). */
  static create(options?: ClientOptions): Promise<SeedcastClient>;
  /** Needs `loadSeedcast()` to have resolved. Options: `trackers` (default
   *  [defaultTracker()], the tracker of seedcast-signal when it serves this page; any other
   *  page must pass its trackers, else an `error` event `no-tracker` says so), `iceServers`,
   *  `maxPeers`, `storage`, `uploadLimit`, `chain`, `noPeersTimeout`, `stallTimeout`.
   *  Throws on an invalid option, and when `storage` conflicts with the store of this page's
   *  first client. */
  constructor(options?: ClientOptions);
  readonly peerId: string;
  readonly torrents: SeedcastTorrent[];
  /** The torrent with this info hash (40 hex digits, any case) or hex magnet link, if this
   *  client has it (as WebTorrent's `client.get`, but synchronous). */
  get(id: string): SeedcastTorrent | undefined;
  /** Removes the torrent with this info hash or magnet link, if any (`torrent.remove()`). */
  remove(id: string): void;
  /** The chain tips go to (`ClientOptions.chain`, validated; BTTC mainnet by default). */
  readonly chain: Chain;
  /** Changes the chain tips go to, validated as `ClientOptions.chain` (throws and keeps the
   *  old one if refused). A tip already under way keeps the chain it started with. */
  setChain(chain: 'bttc' | 'donau' | ChainInput): void;
  /** Browser wallets (EIP-6963 discovery; `window.ethereum` as the fallback, uuid
   *  `"window.ethereum"`). Resolves with an empty list when there is none; never rejects. */
  wallets(): Promise<WalletInfo[]>;
  /** A creator's channel on `server` (default: this page's origin), verified in the page
   *  whatever the server says; `null` when there is none. A channel that does not verify
   *  resolves with `verified: false` and the `reason`. Rejects for an invalid address or
   *  server origin, an unreachable server or an HTTP error. */
  channel(address: string, server?: string): Promise<ChannelView | null>;
  /** Tips `address` received per work through `chain.tipJar`, from the chain's logs
   *  (`chain.rpcUrls`); a later call reads only newer blocks (and older ones still left).
   *  Rejects for an invalid address, a chain without a TipJar, or when every RPC URL fails
   *  (what was counted so far is kept for the next call). */
  tips(address: string): Promise<CreatorTips>;
  /** Starts downloading from a magnet link (hex or base32 info hash; its `tr` trackers join
   *  the client's, `ws` web seeds are used) or the bytes of a .torrent file. Returns at once;
   *  listen for `metadata`, `progress`, `done`. A torrent stored by an earlier visit resumes
   *  from storage. Throws for a malformed link or file, a torrent this client already has, a
   *  torrent whose pieces are too large for a browser tab (over 16 MiB), or a destroyed client.
   *
   *  @example
   *  ```js
   *  const torrent = client.add(magnet);
   *  torrent.addEventListener('metadata', async () => { video.src = await torrent.files[0].streamURL(); });
   *  ```
   */
  add(source: string | Uint8Array | ArrayBuffer): SeedcastTorrent;
  /** Hashes files in the page (a `File`, `File[]`, a `FileList` from an `<input type=file>`, a
   *  `Blob` or bytes) and seeds them; resolves once hashed and announced. `options.name` names
   *  the torrent; `options.creator` signs a creator record with a browser wallet (rejects with
   *  a `TipError` if the wallet refuses). Rejects for no files, empty input, or a torrent this
   *  client already has.
   *
   *  @example
   *  ```js
   *  const torrent = await client.seed(input.files);
   *  share(torrent.magnetURI);
   *  ```
   */
  seed(input: File | File[] | FileList | Blob | Uint8Array, options?: SeedOptions): Promise<SeedcastTorrent>;
  /** What this site keeps in browser storage (all tabs); stored torrents resume. Rejects
   *  when browser storage cannot be read. */
  stored(): Promise<StoredTorrent[]>;
  /** Deletes the stored pieces of one torrent (removing it first), or of all of them.
   *  Rejects for a malformed info hash, or when browser storage refuses (e.g. the torrent is
   *  open in another tab). */
  clearStored(infoHash?: string): Promise<void>;
  /** Registers the streaming service worker now, so the first `streamURL()` does not wait
   *  for it; resolves once it controls this page. Once per page (every client and copy of
   *  this module shares it; a later call with other URLs rejects).
   *  `script`: where the package's `sw.js` is served (default: next to this module, right
   *  when the files are served as they are; with a bundler, copy `sw.js` to your site and pass
   *  its URL). `scope`: default the script's directory; this page must be inside it, so serve
   *  `sw.js` from the pages' directory or above (e.g. `/sw.js`). Rejects where service
   *  workers are unavailable (plain http:// other than localhost, some private modes). */
  serviceWorker(script?: string | URL, scope?: string | URL): Promise<ServiceWorkerRegistration>;
  /** Resolves once the client's spare WebRTC offers (made when it is created, and again a
   *  few seconds after an announce used them) are ready, so an `add()` after it announces
   *  without waiting for ICE gathering. Resolves at once when none is being made (also where
   *  WebRTC is unavailable). Never rejects. */
  offersReady(): Promise<void>;
  /** RTCPeerConnections alive in this page (diagnostics and leak tests). */
  static liveConnections(): number;
  /** Stops every torrent, connection and timer. Later calls on this client throw. */
  destroy(): void;
  /** Listens for `tracker` and `error` events (see `SeedcastClientEventMap`). */
  addEventListener<K extends keyof SeedcastClientEventMap>(type: K, listener: (ev: SeedcastClientEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  /** Any other event type (as on every EventTarget). */
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

/** A file read as it downloads (`openStream`). `for await (const chunk of stream)` reads it
 *  to the end and closes it. */
export interface SeedcastStream extends AsyncIterable<Uint8Array> {
  /** The next chunk (at most 1 MiB; a view whose buffer may be longer), or undefined at the
   *  end. Waits for pieces to arrive. `spare`: a chunk you are done with; its buffer is reused
   *  (a long stream makes no garbage). Rejects once the stream or its torrent is closed. */
  next(spare?: Uint8Array): Promise<Uint8Array | undefined>;
  /** The one way to end a stream: releases its streaming window and memory. Idempotent. */
  close(): void;
  readonly closed: boolean;
}

/** One file of a torrent: the same object for the torrent's life. */
export interface SeedcastFile extends FileInfo {
  /** The finished file's content (read from browser storage). Rejects while the file is
   *  not complete, and after `remove()`. */
  bytes(): Promise<Uint8Array>;
  /** The finished file as a Blob (its data is kept by the browser, not the page). Rejects
   *  while the file is not complete, and after `remove()`. */
  blob(type?: string): Promise<Blob>;
  /** An object URL of `blob(type)`, made once and revoked by `remove()`. Rejects as `blob()`. */
  url(type?: string): Promise<string>;
  /** A URL that `<video>`/`<audio>` can play while the file downloads (HTTP range requests
   *  answered by the streaming service worker; see `client.serviceWorker()`, which this
   *  calls with no arguments if the page has not). Rejects where that worker cannot be
   *  registered. Pieces after the play position and after every seek are fetched first; the
   *  page keeps seeding. On a page that registered the worker before `add()`, a magnet's
   *  first pieces are asked for with its metadata: set `src` as soon as `metadata` fires. */
  streamURL(): Promise<string>;
}

/**
 * One torrent of a client: its files, progress, peers, streams and creator. Events: see
 * `SeedcastTorrentEventMap`. Every method throws "this torrent was removed" after `remove()`
 * (or a fatal `error`).
 */
export class SeedcastTorrent extends EventTarget {
  readonly infoHash: string;
  readonly name: string | undefined;
  readonly magnetURI: string;
  /** Empty until `metadata`; then the same array of the same objects on every read. */
  readonly files: readonly SeedcastFile[];
  /** The creator record inside the torrent (null without one, or until `metadata`). */
  readonly creator: Creator | null;
  /** Sends `amount` BTT (a decimal string, at most 18 decimals) to the verified creator from
   *  a browser wallet (through `chain.tipJar` when set), switching or adding the chain if
   *  needed; resolves when the transaction is confirmed. Rejects with a `TipError`. A torrent
   *  without a creator record goes to the creator of the one channel verified by this client
   *  (`client.channel()`) that lists it, else `unverified-creator`. */
  tip(amount: string, options?: TipOptions): Promise<TipResult>;
  /** Adds this torrent to the wallet account's channel (creating it), signs the new version
   *  with the wallet and uploads it; rejects with a `TipError` (`no-wallet`, `rejected`,
   *  `failed`). A torrent with a creator record joins only its creator's channel. */
  publishToChannel(options?: PublishOptions): Promise<PublishResult>;
  /** The .torrent file (bencoded, with the client's trackers), or undefined before the
   *  metadata. */
  torrentFile(): Uint8Array | undefined;
  /** A snapshot of progress, speeds, peers, piece counts and `pieceLength`, storage and web
   *  seeds (cheap: call it from a timer). */
  stats(): TorrentStats;
  /** The connected peers, with their client name, traffic and how many pieces they have. */
  peers(): PeerInfo[];
  /** One byte per piece, 1 = verified. */
  pieces(): Uint8Array;
  /** WebTorrent's name: `stats().progress`, 0 to 1 (verified bytes over the total). */
  readonly progress: number;
  /** WebTorrent's name: `stats().downloadSpeed`, bytes per second (peers and web seeds). */
  readonly downloadSpeed: number;
  /** WebTorrent's name: `stats().uploadSpeed`, bytes per second. */
  readonly uploadSpeed: number;
  /** WebTorrent's name: `stats().downloaded`, bytes received. */
  readonly downloaded: number;
  /** WebTorrent's name: `stats().uploaded`, bytes sent. */
  readonly uploaded: number;
  /** WebTorrent's name: `stats().peers`, connected peers. */
  readonly numPeers: number;
  /** WebTorrent's name: `stats().done`, every piece verified. */
  readonly done: boolean;
  /** WebTorrent's name: `stats().length`, total bytes (undefined before the metadata). */
  readonly length: number | undefined;
  /** WebTorrent's name: `stats().pieceLength` (undefined before the metadata). */
  readonly pieceLength: number | undefined;
  /** Reads file `fileIndex` from `start` to `end` (inclusive, default: its end) as pieces
   *  arrive; may be opened before the metadata. Close it when done. At most 8 per torrent: a
   *  9th closes the least recently used. Throws for a file index or range the torrent does
   *  not have, or once the torrent was removed. */
  openStream(fileIndex: number, start?: number, end?: number): SeedcastStream;
  /** Stops the torrent and frees its memory; what is stored stays (see `clearStored`). */
  remove(): void;
  /** Listens for the torrent's events (see `SeedcastTorrentEventMap`). */
  addEventListener<K extends keyof SeedcastTorrentEventMap>(type: K, listener: (ev: SeedcastTorrentEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  /** Any other event type (as on every EventTarget). */
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}
