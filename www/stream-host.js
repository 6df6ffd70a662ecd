// The page side of streaming: registers the service worker (sw.js, once per page) and answers
// its requests for file ranges from the torrents of this page (see the protocol in sw.js).
// Every torrent any SeedcastClient of this page holds can be streamed, by this page only: the
// worker asks only the page whose element made the request.
//
// Two copies of this module on one page (two bundles, or a bundle and the player from a CDN)
// share one host: its state lives on globalThis under a versioned symbol, so both copies see
// every torrent of the page and register the worker once.

const HOST = Symbol.for('seedcast.stream-host/1');
const KEEPALIVE_MS = 20_000;
// SeedcastTorrent's hook: a reader's stream opened (its fast-start stream can end).
const streamStarted = Symbol.for('seedcast.streamStarted');

/** The page's host state (created by the first copy that needs it). */
function host() {
  globalThis[HOST] ??= {
    torrents: new Map(), // infoHash -> SeedcastTorrent
    ready: undefined, // Promise<ServiceWorkerRegistration>
    script: undefined, // the worker's script URL
    scope: undefined, // the worker's scope URL; stream URLs live under it
    openStreams: 0,
    keepalive: undefined,
    onMessage: onWorkerMessage,
  };
  return globalThis[HOST];
}

/** Counts open streams; while there are any, pings the worker so the browser keeps it alive. */
function streamOpened(delta) {
  const h = host();
  h.openStreams += delta;
  if (h.openStreams > 0 && !h.keepalive && h.scope) {
    const url = new URL('seedcast/keepalive', h.scope);
    h.keepalive = setInterval(() => fetch(url).catch(() => {}), KEEPALIVE_MS);
  } else if (h.openStreams === 0 && h.keepalive) {
    clearInterval(h.keepalive);
    h.keepalive = undefined;
  }
}

/** Makes `torrent` streamable from this page (until `forgetTorrent`). */
export function hostTorrent(torrent) { host().torrents.set(torrent.infoHash, torrent); }
/** Stops streaming `torrent` (only if it is the one hosted under its info hash). */
export function forgetTorrent(torrent) {
  const { torrents } = host();
  if (torrents.get(torrent.infoHash) === torrent) torrents.delete(torrent.infoHash);
}

/** Whether this page registers the streaming worker (it streams, or is about to). */
export function streams() { return host().ready !== undefined; }

/** The URL a media element can play file `file.index` of `torrent` from. */
export async function streamURL(torrent, file) {
  await serviceWorker();
  giveRequestPort();
  return new URL(`seedcast/stream/${torrent.infoHash}/${file.index}/${encodeURIComponent(file.name)}`, host().scope).href;
}

/** Registers the streaming worker (once per page) and resolves with its registration once it
 *  controls this page. `script`: the URL sw.js is served at (default: next to this module);
 *  `scope`: default the script's directory. The page must be inside the scope. Asking again
 *  with other URLs than the first call fails: a page has one streaming worker. */
export function serviceWorker(script, scope) {
  const h = host();
  let scriptURL;
  let scopeURL;
  try {
    scriptURL = new URL(script ?? './sw.js', script ? location.href : import.meta.url).href;
    scopeURL = new URL(scope ?? './', scope ? location.href : scriptURL).href;
  } catch {
    return Promise.reject(new Error(`not a URL: ${script ?? scope}`));
  }
  if (h.ready) {
    const asked = script !== undefined || scope !== undefined;
    if (asked && (scriptURL !== h.script || scopeURL !== h.scope)) {
      return Promise.reject(new Error(`this page's streaming worker is already ${h.script} (scope ${h.scope}); register it once, before the first stream`));
    }
    return h.ready;
  }
  h.script = scriptURL;
  h.scope = scopeURL;
  h.ready = register(scriptURL, scopeURL);
  h.ready.catch(() => { h.ready = undefined; });
  return h.ready;
}

async function register(scriptURL, scopeURL) {
  if (!('serviceWorker' in navigator)) {
    throw new Error('this browser cannot stream here (service workers need https:// or localhost, and are off in some private modes)');
  }
  if (!location.href.startsWith(scopeURL)) {
    throw new Error(`this page is outside the streaming worker's scope ${scopeURL}: serve sw.js from this page's directory or above and pass its URL to serviceWorker()`);
  }
  navigator.serviceWorker.addEventListener('message', host().onMessage);
  navigator.serviceWorker.startMessages();
  let registration;
  try {
    registration = await navigator.serviceWorker.register(scriptURL, { scope: new URL(scopeURL).pathname });
  } catch (e) {
    throw new Error(`cannot register the streaming worker ${scriptURL} (${e.message}); serve the package's sw.js there, or pass its URL to serviceWorker()`);
  }
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    // The worker claims open pages when it activates; wait for that.
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  performance.mark('seedcast:service-worker');
  return registration;
}

/** Gives the controlling worker a port to send this page's stream requests on (see sw.js):
 *  while a download kept this page busy its `client.postMessage` arrived 80–200 ms after it was
 *  sent, a port message 20–60 ms. Sent with every stream URL, since a restarted worker forgets
 *  the last one. The old port is not closed: a request may be on its way on it. */
function giveRequestPort() {
  const worker = navigator.serviceWorker.controller;
  if (!worker) return;
  const { port1, port2 } = new MessageChannel();
  port1.onmessage = host().onMessage;
  worker.postMessage({ type: 'seedcast:requests' }, [port2]);
}

function metadata(torrent) {
  if (torrent.stats().hasMetadata) return Promise.resolve();
  return new Promise((resolve) => torrent.addEventListener('metadata', resolve, { once: true }));
}

/** Diagnostics: if a page sets `globalThis.seedcastTrace = []`, stream events land there. */
function tracing() { return Array.isArray(globalThis.seedcastTrace); }

function trace(...what) {
  if (tracing() && globalThis.seedcastTrace.length < 10_000) {
    globalThis.seedcastTrace.push(`${performance.now().toFixed(0)} ${what.join(' ')}`);
  }
}

/** Diagnostics (tracing only): every 100 ms while the stream is open, what has arrived in
 *  all and around its start (verified pieces of the 8 from the one holding `start` of file
 *  `fileIndex`; approximate where a torrent has padding files, which `files` leaves out). */
function traceProgress(id, torrent, fileIndex, start, current) {
  const s0 = current();
  const offset = torrent.files.filter((f) => f.index < fileIndex).reduce((sum, f) => sum + f.length, 0);
  const total = torrent.files.reduce((sum, f) => sum + f.length, 0);
  const timer = setInterval(() => {
    if (current() !== s0) { clearInterval(timer); return; }
    const st = torrent.stats();
    const pieces = torrent.pieces();
    const p = Math.floor((offset + start) / total * st.numPieces);
    let near = 0;
    for (let i = p; i < Math.min(p + 8, pieces.length); i++) near += pieces[i];
    trace(id, 'progress', `verified ${st.piecesVerified}/${st.numPieces} near ${near}/8 down ${(st.downloaded / 1e6).toFixed(1)}MB unsaved ${st.unsavedBytes} speed ${(st.downloadSpeed / 1e6).toFixed(1)}MB/s`);
  }, 100);
}

/** The range the worker will read, if it said so up front (`want`) and it fits `length`:
 *  `{ start, end }` (end inclusive, as the worker computes it from the same header). */
function earlyRange(want, length) {
  if (!want || !Number.isSafeInteger(want.start) || want.start < 0 || want.start >= length) return null;
  if (want.end != null && (!Number.isSafeInteger(want.end) || want.end < want.start)) return null;
  return { start: want.start, end: want.end == null ? length - 1 : Math.min(want.end, length - 1) };
}

async function onWorkerMessage(event) {
  const { data } = event;
  const port = event.ports?.[0];
  if (data?.type !== 'seedcast:stream' || !port) return;
  const id = Math.random().toString(36).slice(2, 6);
  trace(id, 'request', data.fileIndex);
  const torrent = host().torrents.get(data.infoHash);
  if (!torrent) { port.postMessage({ error: 'this page does not hold that torrent', refused: true }); port.close(); return; }
  let stream;
  const stop = () => {
    if (stream) { stream.close(); stream = undefined; streamOpened(-1); trace(id, 'closed'); }
    port.onmessage = null;
    port.close();
  };
  const open = (start, end) => {
    stream = torrent.openStream(data.fileIndex, start, end);
    torrent[streamStarted]?.();
    streamOpened(1);
    trace(id, 'open', start, end);
    if (tracing()) traceProgress(id, torrent, data.fileIndex, start, () => stream);
  };
  // The worker asks for several chunks ahead: read them one after another.
  let reading = Promise.resolve();
  const pull = (spare) => { reading = reading.then(() => pullOne(spare)); };
  const pullOne = async (spare) => {
    const s = stream;
    if (!s) return; // finished or cancelled meanwhile
    let chunk;
    try {
      chunk = await s.next(spare);
    } catch (e) {
      if (stream === s) { port.postMessage({ error: e.message }); stop(); }
      return;
    }
    if (stream !== s) return; // cancelled meanwhile
    trace(id, 'chunk', chunk?.length ?? 'end');
    if (chunk) port.postMessage({ chunk }, [chunk.buffer]);
    else { port.postMessage({ done: true }); stop(); }
  };
  port.onmessage = ({ data: msg }) => {
    try {
      if (msg.op === 'open' && !stream) open(msg.start, msg.end);
      else if (msg.op === 'pull' && stream) pull(msg.spare);
      else if (msg.op === 'cancel') stop();
    } catch (e) {
      port.postMessage({ error: e.message });
      stop();
    }
  };
  port.postMessage({ ack: true });
  try {
    await metadata(torrent);
    const file = torrent.files.find((f) => f.index === data.fileIndex);
    if (!file) throw new Error(`the torrent has no file ${data.fileIndex}`);
    // The range the worker will ask for is known already: open it now and send its first
    // chunk unasked, one trip through this (busy) page sooner than open + pull would.
    const range = stream ? null : earlyRange(data.want, file.length);
    if (range) open(range.start, range.end);
    port.postMessage({ length: file.length, name: file.name, ...(range ? { opened: range } : {}) });
    if (range) pull();
  } catch (e) {
    port.postMessage({ error: e.message });
    stop();
  }
}
