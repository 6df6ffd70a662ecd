// What a page should be told about a torrent or a client that is not getting anywhere: no
// peers for a while, no data for a while, no tracker reachable. Pure logic over snapshots
// (stats, tracker events) and a clock in milliseconds; seedcast.js feeds it once a second
// and dispatches what it returns. Unit-tested in tests/www/health.test.mjs.
//
// Invariant: each signal is sent once per episode and re-armed only by its opposite (a peer
// connects, data arrives, a tracker opens), so a page never gets a stream of repeats.

/** Defaults, in seconds (ClientOptions `noPeersTimeout`, `stallTimeout`). */
export const NO_PEERS_TIMEOUT = 30;
export const STALL_TIMEOUT = 15;
/** Largest accepted timeout: a day. */
const MAX_TIMEOUT = 86_400;

/** A timeout option in seconds, validated: `fallback` when undefined. Throws on garbage. */
export function timeoutOption(name, value, fallback) {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMEOUT) {
    throw new Error(`\`${name}\` must be a number of seconds from 0 to ${MAX_TIMEOUT}`);
  }
  return value;
}

/** One torrent's watch. `observe(stats, now)` returns the signals to send:
 *  `[{ type: 'error', detail: { code: 'no-peers', message, fatal: false } }]` and/or
 *  `[{ type: 'stalled', detail: { seconds, peers, hasMetadata } }]`. */
export class TorrentWatch {
  #noPeersMs;
  #stallMs;
  #lastSource;
  #lastData;
  #received = null; // bytes received and verified at the last look (null: none yet)
  #noPeersSent = false;
  #stalledSent = false;

  constructor({ noPeersTimeout = NO_PEERS_TIMEOUT, stallTimeout = STALL_TIMEOUT } = {}, now) {
    this.#noPeersMs = noPeersTimeout * 1000;
    this.#stallMs = stallTimeout * 1000;
    this.#lastSource = now;
    this.#lastData = now;
  }

  observe(stats, now) {
    const signals = [];
    if (stats.done) {
      // A finished torrent only seeds: nothing is missing, nothing to report.
      this.#lastSource = this.#lastData = now;
      this.#noPeersSent = this.#stalledSent = false;
      return signals;
    }
    const sources = stats.peers + (stats.webSeeds ?? []).filter((w) => w.state === 'ready').length;
    if (sources > 0) {
      this.#lastSource = now;
      this.#noPeersSent = false;
    } else if (!this.#noPeersSent && now - this.#lastSource >= this.#noPeersMs) {
      this.#noPeersSent = true;
      const seconds = Math.round((now - this.#lastSource) / 1000);
      signals.push({
        type: 'error',
        detail: { code: 'no-peers', fatal: false, message: `no peer found in ${seconds} s; still looking` },
      });
    }
    const received = stats.downloaded + stats.verified;
    if (this.#received === null) {
      // The first look: a baseline (a resumed torrent starts with verified bytes); the stall
      // clock still runs from when the torrent was added.
      this.#received = received;
    } else if (received !== this.#received) {
      this.#received = received;
      this.#lastData = now;
      this.#stalledSent = false;
    } else if (!this.#stalledSent && now - this.#lastData >= this.#stallMs) {
      this.#stalledSent = true;
      signals.push({
        type: 'stalled',
        detail: { seconds: Math.round((now - this.#lastData) / 1000), peers: stats.peers, hasMetadata: stats.hasMetadata },
      });
    }
    return signals;
  }
}

/** The client's own trackers. `observe(detail)` takes a `tracker` event's detail and returns an
 *  `error` signal (code `no-tracker`) when every one of them has failed and none is open. */
export class TrackerWatch {
  #state = new Map(); // url -> 'open' | 'failed' | 'unknown'
  #sent = false;
  #hint;

  /** `urls`: the client's trackers; `defaultOnly`: they are the page's default tracker (no
   *  `trackers` option), so a failure most likely means the page is not served by
   *  seedcast-signal. */
  constructor(urls, defaultOnly) {
    for (const url of urls) this.#state.set(url, 'unknown');
    this.#hint = defaultOnly
      ? ' This page\'s server is not a Seedcast tracker (seedcast-signal): pass `trackers`, e.g. new SeedcastClient({ trackers: [\'wss://tracker.example\'] }).'
      : '';
  }

  observe({ url, connected }) {
    // Only the client's own trackers: a link's trackers come and go with their torrents (a
    // released one says nothing more, so its last state would stick), and a torrent with no
    // reachable tracker reports `no-peers` anyway.
    if (!this.#state.has(url)) return null;
    this.#state.set(url, connected ? 'open' : 'failed');
    if (connected) {
      this.#sent = false;
      return null;
    }
    const states = [...this.#state.values()];
    if (this.#sent || states.some((s) => s !== 'failed')) return null;
    this.#sent = true;
    const urls = [...this.#state.keys()].join(', ');
    return { type: 'error', detail: { code: 'no-tracker', fatal: false, message: `no tracker reachable (${urls}); retrying.${this.#hint}` } };
  }
}
