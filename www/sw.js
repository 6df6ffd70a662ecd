// Seedcast's service worker: turns a media element's HTTP range requests for
//   <scope>seedcast/stream/<infoHashHex>/<fileIndex>/<url-encoded name>
// into reads from the Seedcast engine running in a page, so <video src> plays a torrent
// while it downloads. Every other request passes through untouched.
//
// Protocol (one MessageChannel per request; answers come in the order asked):
//   worker → page (on the page's request port, else by client.postMessage; port attached):
//       { type: 'seedcast:stream', infoHash, fileIndex, want? }
//       (`want`: { start, end|null }, the range a GET will read when the Range header gives
//       its start; end null = to the end of the file)
//   page → worker: { ack: true } | { error, refused: true }  (at once: "I hold this torrent" or not)
//   page → worker: { length, name, opened? } | { error }     (file info; waits for metadata)
//       (`opened`: { start, end }: the page opened `want` clamped to the file and is sending
//       its first chunk unasked, which answers the first pull; the worker then sends no
//       `open` and no first `pull`)
//   worker → page: { op: 'open', start, end }                (end inclusive; unless `opened`)
//   worker → page: { op: 'pull', spare? }  page → worker: { chunk } | { done: true } | { error }
//       (up to AHEAD pulls in flight: the page reads them one after another; after `done` or
//       an error it answers no more)
//       (`spare`: the buffer of an earlier chunk the player has consumed, transferred back so
//       the page reuses it instead of leaving a dead 1 MiB buffer per chunk in each context)
//   worker → page: { op: 'cancel' }                          (the response was abandoned)
// The request goes on the page's request port when the page gave one ({ type:
// 'seedcast:requests' } with a port, sent with every stream URL), else by client.postMessage.
// A page busy with its incoming download took a port message 20–60 ms after the worker sent
// it, a client.postMessage 80–200 ms (traced in bench-stream: the longest step of a first
// frame). The ports only speed things up: a worker restarted since the page sent its port has
// forgotten it and uses client.postMessage.
// Only the page that made the request (event.clientId: the page of the <video> element) is
// asked: a stream URL plays in the page that holds the torrent and nowhere else, so another tab,
// a navigation to the URL or a page that merely guessed it gets 403. The binding needs no state
// in the worker (which the browser stops and restarts at will): the request carries its client.
// The response body is a ReadableStream whose pull() asks for the next chunk and whose cancel()
// closes the engine's stream, releasing its streaming window. Every response is sandboxed and
// not sniffed: torrent bytes are untrusted, and must never run as a page of this origin.
'use strict';

const PREFIX = 'seedcast/stream/';
// Fetched by pages every 20 s while they stream: a worker with no events for 30 s is
// stopped by the browser, which would cut the streams it is answering.
const KEEPALIVE = 'seedcast/keepalive';
// A page that does not answer this fast is not streaming (or not running Seedcast).
const ACK_TIMEOUT_MS = 3_000;
const INFO_TIMEOUT_MS = 30_000;
const CHUNK_TIMEOUT_MS = 120_000;
// Chunks whose buffers are not yet handed back (see `serve`).
const KEEP_CHUNKS = 2;
// Chunks asked of the page before the body's reader wants them (see `serve`). One at a time,
// every chunk waited for a trip through the page's main thread, busy with the download: with
// 3, the warm first frame in bench-stream (memory, unlimited seeder; medians of 3, two
// alternating runs each) went from 324 and 403 ms to 249 and 340.
const AHEAD = 3;
// Request ports by page (client id); the oldest goes beyond this many.
const MAX_REQUEST_PORTS = 64;
const requestPorts = new Map();

const TYPES = {
  mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm',
  mkv: 'video/x-matroska', mp3: 'audio/mpeg', m4a: 'audio/mp4', ogg: 'audio/ogg',
  ogv: 'video/ogg', oga: 'audio/ogg', opus: 'audio/ogg', wav: 'audio/wav', flac: 'audio/flac',
};

/** Content-Type from a file name's extension. */
function contentType(name) {
  const ext = /\.([a-z0-9]+)$/i.exec(name ?? '')?.[1]?.toLowerCase();
  return TYPES[ext] ?? 'application/octet-stream';
}

/** The numbers of one `Range` header as written: `{ first, last }`, either null where left
 *  out (`a-`, suffix `-n`); null for no header, multi-range or garbage. */
function rangeNumbers(header) {
  const m = header ? /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header) : null;
  if (!m || (m[1] === '' && m[2] === '')) return null;
  return { first: m[1] === '' ? null : Number(m[1]), last: m[2] === '' ? null : Number(m[2]) };
}

/** Parses one `Range` header against a file of `length` bytes: `{ start, end }` (end
 *  inclusive), `null` for no/unsupported range (answer 200), or `'unsatisfiable'` (416). */
function parseRange(header, length) {
  const r = rangeNumbers(header);
  if (!r) return null; // none, multi-range or garbage: whole file
  if (r.first === null) { // suffix: the last n bytes
    if (r.last === 0 || length === 0) return 'unsatisfiable';
    return { start: Math.max(0, length - r.last), end: length - 1 };
  }
  const start = r.first;
  const end = r.last === null ? length - 1 : Math.min(r.last, length - 1);
  if (start >= length || end < start) return 'unsatisfiable';
  return { start, end };
}

/** One request's conversation with a page over a MessagePort. */
class PagePort {
  constructor(port) {
    this.port = port;
    this.queue = [];
    this.waiting = null;
    port.onmessage = ({ data }) => {
      if (this.waiting) { const w = this.waiting; this.waiting = null; w(data); } else this.queue.push(data);
    };
  }

  /** The next message, or `{ error }` after `ms`. */
  next(ms) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiting = null; resolve({ error: 'the page did not answer in time' }); }, ms);
      this.waiting = (data) => { clearTimeout(timer); resolve(data); };
    });
  }

  send(message, transfer = []) { this.port.postMessage(message, transfer); }
  close() { this.port.onmessage = null; this.port.close(); }
}

/** The range a GET with this `Range` header reads, when it is known without the file's
 *  length (the same answer `parseRange` gives once the length is known, end clamped to it):
 *  `{ start, end }` with end null for "to the end"; null for suffix ranges and garbage. */
function earlyRange(header) {
  if (!header) return { start: 0, end: null };
  const r = rangeNumbers(header);
  return r && r.first !== null ? { start: r.first, end: r.last } : null;
}

/** Asks `client` for the file; resolves with `{ port, info }` or `null` if it does not have it. */
async function ask(client, infoHash, fileIndex, want) {
  const channel = new MessageChannel();
  const port = new PagePort(channel.port1);
  const to = requestPorts.get(client.id) ?? client;
  to.postMessage({ type: 'seedcast:stream', infoHash, fileIndex, ...(want ? { want } : {}) }, [channel.port2]);
  const ack = await port.next(ACK_TIMEOUT_MS);
  if (!ack?.ack) { port.close(); return { error: ack?.error ?? 'bad answer', refused: Boolean(ack?.refused) }; }
  const info = await port.next(INFO_TIMEOUT_MS);
  if (info?.error || typeof info?.length !== 'number') { port.close(); return { error: info?.error ?? 'bad answer' }; }
  return { port, info };
}

/** The requesting page's answer, or `{ error, status }`: 403 when no page made the request
 *  or the page does not hold the torrent, 404 when it cannot serve it (no such file, silent). */
async function findPage(event, infoHash, fileIndex, want) {
  const client = event.clientId ? await self.clients.get(event.clientId) : null;
  if (!client) return { error: 'a stream URL plays only in the page that opened it', status: 403 };
  const found = await ask(client, infoHash, fileIndex, want);
  return found.port ? found : { ...found, status: found.refused ? 403 : 404 };
}

/** On every stream response: the bytes come from untrusted peers. */
const SAFETY_HEADERS = {
  'Content-Security-Policy': "sandbox; default-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

function textResponse(status, text, headers = {}) {
  return new Response(text, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...SAFETY_HEADERS, ...headers } });
}

async function serve(event, infoHash, fileIndex) {
  const { request } = event;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return textResponse(405, 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
  }
  const want = request.method === 'GET' ? earlyRange(request.headers.get('Range')) : null;
  let found = await findPage(event, infoHash, fileIndex, want);
  if (!found.port) return textResponse(found.status, `${found.error}\n`);
  // A request its element abandoned while the page waited for the metadata (a player that
  // guessed the file before it, then switched): close the stream the page opened for it.
  // Chromium also cancels such a response's body, which closes the stream anyway (stream.test
  // passes without this); this does not rely on that.
  if (request.signal?.aborted) {
    found.port.send({ op: 'cancel' });
    found.port.close();
    return textResponse(499, 'abandoned\n');
  }
  const { length } = found.info;
  const range = parseRange(request.headers.get('Range'), length);
  const { start, end } = range === 'unsatisfiable' ? {} : range ?? { start: 0, end: length - 1 };
  const opened = found.info.opened;
  if (opened && (opened.start !== start || opened.end !== end)) {
    // The page opened another range than this one (it cannot, by construction): ask afresh.
    found.port.send({ op: 'cancel' });
    found.port.close();
    found = await findPage(event, infoHash, fileIndex, null);
    if (!found.port) return textResponse(found.status, `${found.error}\n`);
  }
  const { port, info } = found;
  const headers = { 'Content-Type': contentType(info.name), 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store', ...SAFETY_HEADERS };
  if (range === 'unsatisfiable') {
    port.close();
    return new Response(null, { status: 416, headers: { ...headers, 'Content-Range': `bytes */${length}` } });
  }
  const status = range ? 206 : 200;
  headers['Content-Length'] = String(Math.max(0, end - start + 1));
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${length}`;
  if (request.method === 'HEAD' || length === 0) {
    port.close();
    return new Response(null, { status, headers });
  }
  // Chunks asked for and not yet answered: the page sent the first unasked if it opened the
  // range already; else open it now.
  let asked = info.opened ? 1 : 0;
  if (!asked) port.send({ op: 'open', start, end });
  let finished = false;
  const finish = () => { if (!finished) { finished = true; port.close(); } };
  request.signal?.addEventListener('abort', () => { if (!finished) { port.send({ op: 'cancel' }); finish(); } });
  // Chunks enqueued, oldest first, until their buffers go back to the page. When pull()
  // asks for chunk k, the body's reader has taken chunk k-1, and (Chromium's response
  // body reader takes one chunk at a time) has copied chunk k-2 out completely. Keeping the
  // newest KEEP_CHUNKS leaves one chunk of margin beyond that.
  const enqueued = [];
  const body = new ReadableStream({
    async pull(controller) {
      // Keep AHEAD chunks on their way, so the page's answers overlap instead of each
      // costing a round trip through its busy main thread.
      while (asked < AHEAD) {
        const spare = enqueued.length > KEEP_CHUNKS ? enqueued.shift() : null;
        if (spare?.buffer.byteLength) port.send({ op: 'pull', spare }, [spare.buffer]);
        else port.send({ op: 'pull' });
        asked += 1;
      }
      const data = await port.next(CHUNK_TIMEOUT_MS);
      asked -= 1;
      if (data?.chunk) {
        enqueued.push(data.chunk);
        controller.enqueue(data.chunk);
      } else if (data?.done) {
        finish();
        controller.close();
      } else {
        port.send({ op: 'cancel' });
        finish();
        controller.error(new Error(data?.error ?? 'stream failed'));
      }
    },
    cancel() {
      if (finished) return;
      port.send({ op: 'cancel' });
      finish();
    },
  }, { highWaterMark: 1 });
  return new Response(body, { status, headers });
}

// A page's request port (see the protocol above). Only this origin's pages can message its
// worker; the port is kept under the sender's client id, so a page gets only its own requests.
self.addEventListener('message', (event) => {
  const port = event.ports?.[0];
  const id = event.source?.id;
  if (event.data?.type !== 'seedcast:requests' || !port || !id) return;
  requestPorts.delete(id); // re-inserted as the newest
  if (requestPorts.size >= MAX_REQUEST_PORTS) requestPorts.delete(requestPorts.keys().next().value);
  requestPorts.set(id, port);
});

self.addEventListener('install', () => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.href === new URL(KEEPALIVE, self.registration.scope).href) {
    event.respondWith(new Response(null, { status: 204 }));
    return;
  }
  const prefix = new URL(PREFIX, self.registration.scope);
  if (url.origin !== prefix.origin || !url.pathname.startsWith(prefix.pathname)) return; // pass through
  const [infoHash, index] = url.pathname.slice(prefix.pathname.length).split('/');
  const fileIndex = Number(index);
  if (!/^[0-9a-f]{40}$/i.test(infoHash ?? '') || !Number.isInteger(fileIndex) || fileIndex < 0) {
    event.respondWith(textResponse(400, 'malformed stream URL\n'));
    return;
  }
  event.respondWith(serve(event, infoHash.toLowerCase(), fileIndex));
});
