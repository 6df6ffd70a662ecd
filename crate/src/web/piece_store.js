// Persistent piece storage for seedcast in the browser (a wasm-bindgen snippet).
//
// One dedicated worker per page owns the files, because only a worker may hold OPFS
// synchronous access handles (plain positional reads and writes, no swap-file commit per
// write). The page talks to it with numbered requests; every answer settles one promise.
//
// Layout, per torrent, in OPFS under `seedcast/<info hash hex>/`:
//   data    pieces at `index * pieceLength` (the last piece is shorter)
//   pieces  one byte per piece: 1 once the piece's bytes are written and flushed (see the
//           crash-consistency invariant at `writeMany`)
//   info    the torrent's `info` dictionary (lets a magnet link resume without peers)
//   meta    JSON { name, length, pieceLength } for the "stored torrents" list
// Fallback when OPFS sync handles are missing: IndexedDB `seedcast` with stores `pieces`
// (key `<hex>:<index>`) and `torrents` (key hex → { info, name, length, pieceLength }).
//
// Only verified pieces are ever written (the engine writes after the SHA-1 check). A write
// resolves only once it is durable (OPFS: flushed; IndexedDB: its transaction completed),
// so the page may drop its copy then; a write that failed rejects with the cause, and a
// full store says "storage is full: ...". Stored pieces are still hashed again on their
// first read after a reload (storage.rs): marks say where to look, not what to trust.

function storeWorkerMain() {
  const open = new Map(); // hex -> { dir, data, marks } (OPFS only)
  // Torrents deleted since they were last opened: late writes for them are dropped rather
  // than bringing back a folder the user just cleared.
  const removed = new Set();
  let kind = null;
  let root = null;
  let db = null;

  async function chooseKind(preference) {
    const opfsOk = async () => {
      if (typeof navigator.storage?.getDirectory !== 'function') return false;
      if (typeof FileSystemFileHandle === 'undefined'
        || typeof FileSystemFileHandle.prototype.createSyncAccessHandle !== 'function') return false;
      root = await (await navigator.storage.getDirectory()).getDirectoryHandle('seedcast', { create: true });
      return true;
    };
    const idbOk = async () => {
      if (typeof indexedDB === 'undefined') return false;
      db = await new Promise((resolve, reject) => {
        const req = indexedDB.open('seedcast', 1);
        req.onupgradeneeded = () => {
          req.result.createObjectStore('pieces');
          req.result.createObjectStore('torrents');
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      return true;
    };
    const order = preference === 'indexeddb' ? [['indexeddb', idbOk]]
      : preference === 'opfs' ? [['opfs', opfsOk]]
        : [['opfs', opfsOk], ['indexeddb', idbOk]];
    for (const [name, ok] of order) {
      try {
        if (await ok()) return name;
      } catch { /* try the next one */ }
    }
    return 'memory';
  }

  // ---- IndexedDB helpers ----
  const idbReq = (req) => new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const store = (name, mode) => db.transaction(name, mode).objectStore(name);
  // Runs `fill(objectStore)` in one readwrite transaction and settles when the transaction
  // does: a request's own success only means it was queued, and a quota error aborts the
  // whole transaction at commit, after every request "succeeded".
  const idbWrite = (name, fill) => new Promise((resolve, reject) => {
    const tx = db.transaction(name, 'readwrite');
    tx.oncomplete = () => resolve(null);
    tx.onabort = () => reject(tx.error ?? new Error('the storage transaction was aborted'));
    tx.onerror = (e) => e.preventDefault(); // the abort that follows reports it
    try { fill(tx.objectStore(name)); } catch (e) { tx.abort(); reject(e); }
  });

  // ---- OPFS helpers ----
  async function opfsOpen(hex) {
    let t = open.get(hex);
    if (t) return t;
    const dir = await root.getDirectoryHandle(hex, { create: true });
    // A tab that was just reloaded or closed releases its handles a moment after it goes:
    // retry for a few seconds before deciding another tab really has the files.
    const handle = async (name) => {
      const file = await dir.getFileHandle(name, { create: true });
      for (let attempt = 0; ; attempt++) {
        try {
          return await file.createSyncAccessHandle();
        } catch (e) {
          if (e?.name !== 'NoModificationAllowedError' || attempt >= 30) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const data = await handle('data');
    let marks;
    try {
      marks = await handle('pieces');
    } catch (e) {
      data.close();
      throw e;
    }
    t = { dir, data, marks };
    open.set(hex, t);
    return t;
  }
  // A write the disk had no room for, reported like the browser's own quota errors.
  function full(detail) {
    const e = new Error(detail);
    e.name = 'QuotaExceededError';
    return e;
  }
  async function readSmallFile(dir, name) {
    try {
      const file = await (await dir.getFileHandle(name)).getFile();
      return new Uint8Array(await file.arrayBuffer());
    } catch {
      return null;
    }
  }
  async function writeSmallFile(dir, name, bytes) {
    const h = await (await dir.getFileHandle(name, { create: true })).createSyncAccessHandle();
    try {
      h.truncate(0);
      h.write(bytes, { at: 0 });
      h.flush();
    } finally {
      h.close();
    }
  }
  function markedPieces(marks) {
    const size = marks.getSize();
    const bytes = new Uint8Array(size);
    marks.read(bytes, { at: 0 });
    const out = [];
    for (let i = 0; i < size; i++) if (bytes[i] === 1) out.push(i);
    return out;
  }

  const ops = {
    async init({ preference }) {
      kind ??= await chooseKind(preference);
      return kind;
    },
    async open({ hex }) {
      removed.delete(hex);
      if (kind === 'opfs') {
        const t = await opfsOpen(hex);
        return { info: await readSmallFile(t.dir, 'info'), pieces: markedPieces(t.marks) };
      }
      const info = (await idbReq(store('torrents', 'readonly').get(hex)))?.info ?? null;
      const keys = await idbReq(store('pieces', 'readonly')
        .getAllKeys(IDBKeyRange.bound(`${hex}:`, `${hex}:\uffff`)));
      const pieces = keys.map((k) => Number(String(k).slice(hex.length + 1))).filter(Number.isInteger);
      return { info: info ? new Uint8Array(info) : null, pieces };
    },
    // Pieces `indices[i]` = `arrays[i]`, in one message. The arrays' buffers go back to the
    // page for reuse (see "Buffer recycling" below).
    //
    // Crash-consistency invariant (OPFS): a piece's mark is written only after its bytes
    // are flushed, and the write resolves only after the mark is flushed too. So whatever
    // point a crash (tab killed, power lost) stops us at, every mark on disk describes
    // bytes that reached the disk before it; a crash can lose a mark (the piece is fetched
    // again), never leave one pointing at missing bytes. IndexedDB: data and key are one
    // record, written in one transaction that resolves on `complete`.
    async writeMany({ hex, pieceLength, indices, arrays }) {
      const spare = { spare: arrays.map((a) => a.buffer) };
      if (removed.has(hex)) return spare;
      if (kind === 'opfs') {
        const t = await opfsOpen(hex);
        for (let i = 0; i < indices.length; i++) {
          const bytes = arrays[i];
          const written = t.data.write(bytes, { at: indices[i] * pieceLength });
          if (written !== bytes.byteLength) throw full(`wrote ${written} of ${bytes.byteLength} bytes of piece ${indices[i]}`);
        }
        t.data.flush();
        const one = new Uint8Array([1]);
        for (const index of indices) t.marks.write(one, { at: index });
        t.marks.flush();
        return spare;
      }
      // slice(): exactly the piece (a recycled buffer may be longer than its view).
      await idbWrite('pieces', (pieces) => {
        indices.forEach((index, i) => pieces.put(arrays[i].slice().buffer, `${hex}:${index}`));
      });
      return spare;
    },
    // Pieces whose stored bytes turned out bad or gone: their marks (records) go, so the
    // next visit does not count them as stored.
    async forget({ hex, indices }) {
      if (kind === 'opfs') {
        const t = await opfsOpen(hex);
        const zero = new Uint8Array([0]);
        for (const index of indices) t.marks.write(zero, { at: index });
        t.marks.flush();
        return null;
      }
      await idbWrite('pieces', (pieces) => {
        for (const index of indices) pieces.delete(`${hex}:${index}`);
      });
      return null;
    },
    // `count` consecutive pieces from `index`, `size` bytes in all, as one array: `into` (a
    // recycled buffer the page sent along) when it has the right length.
    async read({ hex, index, count, pieceLength, size, into }) {
      const out = into?.length === size ? into : new Uint8Array(size);
      if (kind === 'opfs') {
        const t = await opfsOpen(hex);
        const got = t.data.read(out, { at: index * pieceLength });
        if (got !== size) throw new Error(`pieces from ${index} are incomplete in storage (${got} of ${size} bytes)`);
        return out;
      }
      const pieces = store('pieces', 'readonly');
      let at = 0;
      for (let i = index; i < index + count; i++) {
        const buffer = await idbReq(pieces.get(`${hex}:${i}`));
        if (!buffer || at + buffer.byteLength > size) throw new Error(`piece ${i} is missing from storage`);
        out.set(new Uint8Array(buffer), at);
        at += buffer.byteLength;
      }
      if (at !== size) throw new Error(`pieces from ${index} are incomplete in storage`);
      return out;
    },
    async putInfo({ hex, info, name, length, pieceLength }) {
      if (removed.has(hex)) return null;
      const meta = { name, length, pieceLength };
      if (kind === 'opfs') {
        const t = await opfsOpen(hex);
        await writeSmallFile(t.dir, 'info', info);
        await writeSmallFile(t.dir, 'meta', new TextEncoder().encode(JSON.stringify(meta)));
        return null;
      }
      await idbWrite('torrents', (torrents) => torrents.put({ info: info.buffer, ...meta }, hex));
      return null;
    },
    async closeAll() {
      for (const hex of [...open.keys()]) await ops.close({ hex });
      return null;
    },
    async close({ hex }) {
      const t = open.get(hex);
      if (t) {
        open.delete(hex);
        t.data.flush();
        t.marks.flush();
        t.data.close();
        t.marks.close();
      }
      return null;
    },
    async list() {
      const out = [];
      if (kind === 'opfs') {
        for await (const [hex, dir] of root.entries()) {
          if (dir.kind !== 'directory') continue;
          let meta = {};
          try { meta = JSON.parse(new TextDecoder().decode(await readSmallFile(dir, 'meta'))); } catch { /* unnamed */ }
          let pieces = 0;
          const t = open.get(hex);
          if (t) pieces = markedPieces(t.marks).length;
          else {
            const marks = await readSmallFile(dir, 'pieces');
            if (marks) for (const b of marks) if (b === 1) pieces++;
          }
          out.push({ infoHash: hex, name: meta.name ?? null, length: meta.length ?? null,
            storedBytes: Math.min(pieces * (meta.pieceLength ?? 0), meta.length ?? Infinity), storedPieces: pieces });
        }
        return out;
      }
      if (kind === 'indexeddb') {
        const torrents = store('torrents', 'readonly');
        const hexes = await idbReq(torrents.getAllKeys());
        const metas = await idbReq(torrents.getAll());
        const keys = await idbReq(store('pieces', 'readonly').getAllKeys());
        const counts = new Map();
        for (const k of keys) {
          const hex = String(k).split(':')[0];
          counts.set(hex, (counts.get(hex) ?? 0) + 1);
        }
        for (const hex of new Set([...hexes, ...counts.keys()])) {
          const meta = metas[hexes.indexOf(hex)] ?? {};
          const pieces = counts.get(hex) ?? 0;
          out.push({ infoHash: hex, name: meta.name ?? null, length: meta.length ?? null,
            storedBytes: Math.min(pieces * (meta.pieceLength ?? 0), meta.length ?? Infinity), storedPieces: pieces });
        }
      }
      return out;
    },
    async remove({ hex }) {
      removed.add(hex);
      if (kind === 'opfs') {
        await ops.close({ hex });
        try { await root.removeEntry(hex, { recursive: true }); } catch (e) {
          if (e?.name !== 'NotFoundError') throw e;
        }
        return null;
      }
      if (kind === 'indexeddb') {
        await idbWrite('pieces', (pieces) => pieces.delete(IDBKeyRange.bound(`${hex}:`, `${hex}:\uffff`)));
        await idbWrite('torrents', (torrents) => torrents.delete(hex));
      }
      return null;
    },
  };

  // One operation at a time, in arrival order: operations on the same torrent must not
  // interleave at their awaits (two opens would race for the exclusive sync handles).
  let queue = Promise.resolve();
  self.onmessage = ({ data }) => {
    queue = queue.then(() => handle(data));
  };
  async function handle({ id, op, args }) {
    try {
      if (!ops[op]) throw new Error(`unknown store operation ${op}`);
      if (op !== 'init' && kind === null) throw new Error('store not initialised');
      const result = await ops[op](args);
      const transfer = result instanceof Uint8Array ? [result.buffer]
        : Array.isArray(result?.spare) ? result.spare : [];
      self.postMessage({ id, ok: true, result }, transfer);
    } catch (e) {
      const message = e?.name === 'NoModificationAllowedError'
        ? 'the stored copy is in use by another tab'
        : e?.name === 'QuotaExceededError' ? `storage is full: ${e.message || 'the browser refused to store more'}`
          : String(e?.message ?? e);
      self.postMessage({ id, ok: false, error: message });
    }
  }
}

let worker = null;
let nextId = 1;
const pending = new Map();

function call(op, args, transfer = []) {
  if (worker === null) {
    const source = `(${storeWorkerMain.toString()})();`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    worker = new Worker(url);
    URL.revokeObjectURL(url);
    worker.onmessage = ({ data }) => {
      const p = pending.get(data.id);
      if (!p) return;
      pending.delete(data.id);
      if (data.ok) p.resolve(data.result);
      else p.reject(new Error(data.error));
    };
    // Let the next page of this tab (a reload) open the files at once.
    addEventListener('pagehide', () => worker?.postMessage({ id: 0, op: 'closeAll', args: {} }));
    worker.onerror = (e) => {
      const error = new Error(`the storage worker failed: ${e.message ?? 'unknown error'}`);
      for (const p of pending.values()) p.reject(error);
      pending.clear();
    };
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
}

// ---- Buffer recycling ----
// Bytes cross between the page and its workers (the storage worker, the service worker) as
// transferred ArrayBuffers. A fresh buffer per message would leave a dead one behind in
// the receiving context for each, and V8 collects them only after tens of MiB have piled
// up, in every context separately: streaming a large file cost the renderer over 100 MiB
// of dead buffers that way. So used buffers travel back to the page and are handed out
// again. Invariant: a buffer is in the pool only while nobody else holds a view of it.
const POOL_MAX_BYTES = 8 * 1024 * 1024;
const MIN_CLASS = 16 * 1024;
const pool = new Map(); // size class (a power of two) -> ArrayBuffer[]
let pooledBytes = 0;

function sizeClass(size) {
  let c = MIN_CLASS;
  while (c < size) c *= 2;
  return c;
}

/** A `Uint8Array` of `size` bytes (not zeroed) over a recycled buffer of its size class. */
export function takeBuffer(size) {
  const cls = sizeClass(size);
  const buffer = pool.get(cls)?.pop();
  if (buffer) pooledBytes -= cls;
  return new Uint8Array(buffer ?? new ArrayBuffer(cls), 0, size);
}

/** Returns a buffer (or a view of one) nobody uses any more; odd sizes, detached buffers
 *  and buffers beyond the pool's bound are left to the collector. */
export function giveBuffer(buffer) {
  if (ArrayBuffer.isView(buffer)) buffer = buffer.buffer;
  if (!(buffer instanceof ArrayBuffer)) return;
  const cls = buffer.byteLength;
  if (cls < MIN_CLASS || (cls & (cls - 1)) !== 0 || pooledBytes + cls > POOL_MAX_BYTES) return;
  let free = pool.get(cls);
  if (!free) pool.set(cls, free = []);
  free.push(buffer);
  pooledBytes += cls;
}

/** Picks the backend once per page: 'opfs', 'indexeddb' or 'memory'. */
export function storeInit(preference) { return call('init', { preference }); }
/** `{ info: Uint8Array | null, pieces: number[] }` of what is stored for `hex`. */
export function storeOpen(hex) { return call('open', { hex }); }
/** Stores verified pieces; the arrays are transferred (the caller must not reuse them) and
 *  their buffers come back to the pool. */
export async function storeWriteMany(hex, pieceLength, indices, arrays) {
  const result = await call('writeMany', { hex, pieceLength, indices: [...indices], arrays }, arrays.map((a) => a.buffer));
  for (const buffer of result?.spare ?? []) giveBuffer(buffer);
  return null;
}
/** Drops the marks (OPFS) or records (IndexedDB) of pieces found bad or missing. */
export function storeForget(hex, indices) { return call('forget', { hex, indices: [...indices] }); }
/** The bytes of `count` pieces from `index`, in a recycled buffer (give it back when done). */
export function storeRead(hex, index, count, pieceLength, size) {
  const into = takeBuffer(size);
  return call('read', { hex, index, count, pieceLength, size, into }, [into.buffer]);
}
export function storePutInfo(hex, info, name, length, pieceLength) {
  return call('putInfo', { hex, info, name, length, pieceLength });
}
/** Releases the files of `hex` (kept on disk) so another tab may open them. */
export function storeClose(hex) { return call('close', { hex }); }
/** Deletes everything stored for `hex`. */
export function storeRemove(hex) { return call('remove', { hex }); }
/** `[{ infoHash, name, length, storedBytes, storedPieces }]`. */
export function storeList() { return call('list', {}); }
