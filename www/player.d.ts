// Types for ./player.js: the <seedcast-player> element.
import type { SeedcastClient, SeedcastTorrent, SeedcastFile } from './seedcast.js';

/** Options of `SeedcastPlayer.prepare()`: as the players to come will name them. */
export interface PrepareOptions {
  /** Tracker URLs (default: this site's tracker, right when seedcast-signal serves the page). */
  trackers?: string[];
  /** `memory`, or the page's persistent store (default). */
  storage?: 'auto' | 'opfs' | 'indexeddb' | 'memory';
  /** Where the package's sw.js is served (default: next to player.js, right when the files are
   *  served as they are; with a bundler copy sw.js to your site, e.g. `/sw.js`, and pass it).
   *  Call `prepare()` before the first player starts: a page has one streaming worker. */
  serviceWorker?: string;
}

/** `ready`: the video's source is set (`file`: the name of the file playing). */
export interface SeedcastPlayerEventMap { ready: CustomEvent<{ file: string }> }

/**
 * `<seedcast-player>`: a video player that plays a torrent while it downloads and seeds it to
 * the next viewers. Importing `seedcast/player` (or loading player.js) defines the element once
 * per page.
 *
 * Attributes:
 * - `src`: the magnet link to play.
 * - `poster`: an image URL shown before playback.
 * - `trackers`: comma-separated `ws://`/`wss://` tracker URLs (default: this site's tracker,
 *   which exists only where seedcast-signal serves the page; elsewhere set it).
 * - `file`: the file to play, by index or name (default: the largest playable file).
 * - `autoplay`, `muted`: as on `<video>` (browsers allow autoplay only when muted).
 * - `storage`: `memory` keeps the pieces in the tab only (default: the page's persistent store).
 *
 * Tips: a torrent with a verified creator record shows the creator and a Tip button below the
 * video, on the chain of the site's `chain.json` next to player.js (default BitTorrent Chain
 * mainnet); no attribute can change that chain.
 *
 * On a page of another origin than player.js, the element renders an `<iframe>` of that
 * origin's embed.html (streaming needs that origin's service worker). For another site, the
 * one-tag embed is `embed.js`: `<script src="https://your-seedcast-site/embed.js" async></script>`
 * then `<seedcast-player src="magnet:?…"></seedcast-player>`, with the same attributes.
 *
 * @example
 * ```html
 * <script type="module">
 *   import { SeedcastPlayer } from 'seedcast/player';
 *   SeedcastPlayer.prepare({ trackers: ['wss://tracker.example'] });
 * </script>
 * <seedcast-player src="magnet:?xt=urn:btih:…" trackers="wss://tracker.example" muted autoplay></seedcast-player>
 * ```
 */
export class SeedcastPlayer extends HTMLElement {
  /** Sets up, ahead of the first `src`, the wasm, the page's shared client for these options
   *  and the streaming service worker. Resolves once all are ready;
   *  rejects where service workers are unavailable (players then play once the whole file has
   *  arrived). */
  static prepare(options?: PrepareOptions): Promise<void>;
  /** The `<video>` element (undefined in iframe mode). */
  readonly video: HTMLVideoElement | undefined;
  /** The torrent playing, once known. Set it to play a torrent this page already has (e.g. one
   *  it seeds) instead of `src`. */
  torrent: SeedcastTorrent | undefined;
  /** The client of a `torrent` handed in (to show its creator line and Tip button). */
  set client(client: SeedcastClient);
  /** The file playing, once the metadata is known. */
  readonly file: SeedcastFile | undefined;
  /** Listens for `ready` (see `SeedcastPlayerEventMap`). */
  addEventListener<K extends keyof SeedcastPlayerEventMap>(type: K, listener: (ev: SeedcastPlayerEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  /** Any other event type (as on every element). */
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap { 'seedcast-player': SeedcastPlayer }
}
