// A plain HTTP answer for a media file with range support (the benchmarks' baseline and
// their WebTorrent pages' video source), optionally paced to `limit` bytes/s.
import { createReadStream } from 'node:fs';

/** Answers `req` with `path` (`size` bytes): 200, 206 for `bytes=a-b` / `a-` / `-n`, 416.
 *  `onBytes(n)` hears every chunk read for the response (what the client pulled, roughly). */
export function serveFile(req, res, path, size, type, limit = 0, onBytes = () => {}) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  let start = 0, end = size - 1;
  if (m) {
    start = m[1] === '' ? size - Number(m[2]) : Number(m[1]);
    end = m[1] !== '' && m[2] !== '' ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (start >= size || end < start) { res.writeHead(416, { 'Content-Range': `bytes */${size}` }); res.end(); return; }
  }
  res.writeHead(m ? 206 : 200, {
    'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Length': end - start + 1,
    ...(m ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
  });
  const stream = createReadStream(path, { start, end, highWaterMark: 64 * 1024 });
  res.on('close', () => stream.destroy());
  stream.on('data', (chunk) => onBytes(chunk.length));
  if (!limit) { stream.pipe(res); return; }
  // Throttled: 64 KiB chunks paced to `limit` bytes/s.
  const began = Date.now();
  let sent = 0;
  stream.on('data', (chunk) => {
    stream.pause();
    res.write(chunk);
    sent += chunk.length;
    setTimeout(() => stream.resume(), Math.max(0, began + (sent / limit) * 1000 - Date.now()));
  });
  stream.on('end', () => res.end());
}
