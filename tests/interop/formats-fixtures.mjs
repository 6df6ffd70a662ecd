// Shared helpers for formats.test.mjs: the seedcast binary, deterministic test files, hashing.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The binary under test: $SEEDCAST_BIN, else target/debug/seedcast in the repo. */
export const seedcastBin = process.env.SEEDCAST_BIN
  ? resolve(process.env.SEEDCAST_BIN)
  : join(repoRoot, 'target', 'debug', 'seedcast')

/** Runs seedcast and returns its stdout; throws (with stderr) on a non-zero exit. */
export function seedcast (...args) {
  return execFileSync(seedcastBin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

export function seedcastJson (...args) {
  return JSON.parse(seedcast(...args, '--json'))
}

/** Runs seedcast expecting it to fail with exit status 1 (a failure, not a usage mistake);
 *  returns its stderr and stdout. */
export function seedcastFails (...args) {
  try {
    execFileSync(seedcastBin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    if (error.status !== 1) throw new Error(`seedcast ${args.join(' ')} exited ${error.status}: ${error.stderr}`)
    return { stderr: error.stderr, stdout: error.stdout }
  }
  throw new Error(`seedcast ${args.join(' ')} succeeded`)
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces exactly. */
export function pseudoRandomBytes (length, seed) {
  const bytes = new Uint8Array(length)
  let state = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    state ^= state << 13; state >>>= 0
    state ^= state >>> 17
    state ^= state << 5; state >>>= 0
    bytes[i] = state & 0xff
  }
  return bytes
}

/**
 * A temp dir with one single file and one folder of odd-sized files (last pieces are short).
 * Names avoid leading dots: create-torrent skips hidden files, seedcast does not.
 */
export function makeFixtures () {
  const root = mkdtempSync(join(tmpdir(), 'seedcast-formats-'))
  const files = {
    'single.bin': pseudoRandomBytes(3_000_017, 1),
    'folder/alpha.bin': pseudoRandomBytes(1_048_583, 2),
    'folder/nested/beta.bin': pseudoRandomBytes(2_222_229, 3),
    'folder/nested/deep/gamma.txt': pseudoRandomBytes(12_345, 4),
    'folder/zeta.dat': pseudoRandomBytes(777, 5)
  }
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true })
    writeFileSync(join(root, name), bytes)
  }
  return { root, files }
}

/** SHA-1 of each piece of the concatenation of `chunks`, hex, computed independently of both tools. */
export function pieceHashes (chunks, pieceLength) {
  const all = Buffer.concat(chunks.map(c => Buffer.from(c)))
  const hashes = []
  for (let offset = 0; offset < all.length; offset += pieceLength) {
    hashes.push(createHash('sha1').update(all.subarray(offset, offset + pieceLength)).digest('hex'))
  }
  return hashes
}
