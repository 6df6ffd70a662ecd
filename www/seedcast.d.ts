// Types for ./seedcast.js. The data shapes come from the generated ./pkg/seedcast.d.ts.
import type { ClientOptions, SeedOptions, TorrentStats, WebSeedInfo, FileInfo, PeerInfo, StoredTorrent, FileStream, Chain, ChainInput, WalletInfo, Creator, TipOptions, TipResult, TipStage, ChannelView, PublishOptions, PublishResult, CreatorTips, WorkTips } from './pkg/seedcast.js';
export type { ClientOptions, SeedOptions, TorrentStats, WebSeedInfo, FileInfo, PeerInfo, StoredTorrent, FileStream, Chain, ChainInput, WalletInfo, Creator, TipOptions, TipResult, TipStage, ChannelView, PublishOptions, PublishResult, CreatorTips, WorkTips };

/** Why a `tip()` or a creator `seed()` failed: `Error.code`. */
export type TipErrorCode = 'no-wallet' | 'rejected' | 'wrong-chain' | 'insufficient-funds' | 'unverified-creator' | 'invalid-amount' | 'failed';
export interface TipError extends Error { code: TipErrorCode }

/** Chain presets (read them after `loadSeedcast()`): mainnet id 199 (default), Donau id 1029. */
export const chains: { readonly bttc: Chain; readonly donau: Chain };

/** Loads the wasm module once. `compiled`: the module already compiled by the page (e.g.
 *  `WebAssembly.compileStreaming(fetch(...))` started before this script loaded); on failure the
 *  module is fetched again. */
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

export interface SeedcastClientEventMap { tracker: CustomEvent<TrackerEventDetail> }
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
  /** Something failed but the torrent carries on. */
  warning: CustomEvent<WarningDetail>;
  /** The torrent cannot go on and was stopped (e.g. its pieces are too large for a browser
   *  tab); `message` says why. It is gone from `client.torrents`; `remove()` still works. */
  error: CustomEvent<MessageDetail>;
  /** `remove()` ran (directly or through `clearStored`). */
  removed: CustomEvent<undefined>;
}

export class SeedcastClient extends EventTarget {
  /** Options (ClientOptions in ./pkg/seedcast.d.ts): `trackers`, `iceServers`, `maxPeers`, and
   *  `uploadLimit` — most bytes per second the client uploads (all torrents and peers together)
   *  (a token bucket; default unlimited). */
  static create(options?: ClientOptions): Promise<SeedcastClient>;
  /** Needs `loadSeedcast()` to have resolved. `trackers` defaults to [defaultTracker()]. */
  constructor(options?: ClientOptions);
  readonly peerId: string;
  readonly torrents: SeedcastTorrent[];
  /** The chain tips go to (`ClientOptions.chain`, validated; BTTC mainnet by default). */
  readonly chain: Chain;
  /** Browser wallets (EIP-6963 discovery; `window.ethereum` as the fallback, uuid
   *  `"window.ethereum"`). */
  wallets(): Promise<WalletInfo[]>;
  /** A creator's channel on `server` (default: this page's origin), verified in the page
   *  whatever the server says; `null` when there is none. */
  channel(address: string, server?: string): Promise<ChannelView | null>;
  /** Tips `address` received per work through `chain.tipJar`, from the chain's logs
   *  (`chain.rpcUrls`); a later call reads only newer blocks (and older ones still left). */
  tips(address: string): Promise<CreatorTips>;
  add(source: string | Uint8Array | ArrayBuffer): SeedcastTorrent;
  seed(input: File | File[] | FileList | Blob | Uint8Array, options?: SeedOptions): Promise<SeedcastTorrent>;
  /** What this site keeps in browser storage (all tabs); stored torrents resume. */
  stored(): Promise<StoredTorrent[]>;
  /** Deletes the stored pieces of one torrent (removing it first), or of all of them. */
  clearStored(infoHash?: string): Promise<void>;
  static liveConnections(): number;
  destroy(): void;
  addEventListener<K extends keyof SeedcastClientEventMap>(type: K, listener: (ev: SeedcastClientEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

export interface SeedcastFile extends FileInfo {
  /** The finished file's content (read from browser storage). */
  bytes(): Promise<Uint8Array>;
  /** The finished file as a Blob (its data is kept by the browser, not the page). */
  blob(type?: string): Promise<Blob>;
  /** An object URL, revoked by `remove()`. */
  url(type?: string): Promise<string>;
  /** A URL that `<video>`/`<audio>` can play while the file downloads (HTTP range requests
   *  answered by the service worker ./sw.js, registered on first use at this module's
   *  directory). Rejects where service workers are unavailable (plain http:// on a host
   *  other than localhost, some private modes). Pieces after the play position and after
   *  every seek are fetched first; the page keeps seeding. */
  streamURL(): Promise<string>;
}

export class SeedcastTorrent extends EventTarget {
  readonly infoHash: string;
  readonly name: string | undefined;
  readonly magnetURI: string;
  readonly files: SeedcastFile[];
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
  torrentFile(): Uint8Array | undefined;
  stats(): TorrentStats;
  peers(): PeerInfo[];
  /** One byte per piece, 1 = verified. */
  pieces(): Uint8Array;
  /** Reads file `fileIndex` from `start` to `end` (inclusive, default: its end) as pieces
   *  arrive; `next()` resolves with chunks of at most 1 MiB (views whose buffer may be
   *  longer; `next(spare)` takes back a chunk you are done with and reuses its buffer, so a
   *  long stream makes no garbage). Close it when done (releases
   *  its streaming window). At most 8 per torrent: a 9th closes the least recently used. */
  openStream(fileIndex: number, start?: number, end?: number): FileStream;
  /** Stops the torrent and frees its memory; what is stored stays (see `clearStored`). */
  remove(): void;
  addEventListener<K extends keyof SeedcastTorrentEventMap>(type: K, listener: (ev: SeedcastTorrentEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}
