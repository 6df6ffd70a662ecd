// Deterministic test content, in Node and (tests/browser/harness.mjs sends `makeContent`'s source into
// every page as `testUtils.makeContent`) in the pages: it must stay self-contained.
import { createHash } from 'node:crypto';

/** `size` pseudo-random bytes (xorshift32 from `seed`), identical in Node and in every test page. */
export function makeContent(size, seed = 0x12345678) {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; words[i] = x >>> 0; }
  for (let i = words.length * 4; i < size; i++) bytes[i] = i & 0xff;
  return bytes;
}

/** Lower-case hex SHA-256 of `bytes`. */
export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
