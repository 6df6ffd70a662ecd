// Interop of seedcast's torrent formats with WebTorrent's own tools (create-torrent, parse-torrent).
// Run: cargo build -p seedcast && node --test tests/interop/   (SEEDCAST_BIN overrides the binary)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

import createTorrent from 'create-torrent'
import parseTorrent, { toMagnetURI } from 'parse-torrent'

import { makeFixtures, pieceHashes, seedcast, seedcastJson } from './formats-fixtures.mjs'

const createTorrentAsync = promisify(createTorrent)
const { root, files } = makeFixtures()
process.on('exit', () => rmSync(root, { recursive: true, force: true }))

const trackers = ['wss://tracker.example/announce', 'udp://tracker.example:6969']
const webSeeds = ['https://seed.example/files/']
const folderFiles = Object.keys(files).filter(name => name.startsWith('folder/')).sort()

/** parse-torrent joins paths with the OS separator; compare with '/'. */
const slashPath = path => path.split(/[\\/]/).join('/')

async function createWithSeedcast (input, out, ...extra) {
  const args = ['create', join(root, input), '-o', join(root, out)]
  for (const t of trackers) args.push('--tracker', t)
  for (const w of webSeeds) args.push('--web-seed', w)
  seedcast(...args, ...extra)
  return parseTorrent(readFileSync(join(root, out)))
}

test('a single-file torrent made by seedcast reads the same in parse-torrent', async () => {
  const parsed = await createWithSeedcast('single.bin', 'seedcast-single.torrent')
  const ours = seedcastJson('info', join(root, 'seedcast-single.torrent'))

  assert.equal(parsed.infoHash, ours.info_hash)
  assert.equal(parsed.name, 'single.bin')
  assert.equal(parsed.pieceLength, ours.piece_length)
  assert.equal(parsed.pieces.length, ours.num_pieces)
  assert.deepEqual(parsed.pieces, pieceHashes([files['single.bin']], parsed.pieceLength))
  assert.notEqual(parsed.lastPieceLength, parsed.pieceLength, 'fixture has a short last piece')
  assert.deepEqual(parsed.files.map(f => [slashPath(f.path), f.length]), [['single.bin', 3_000_017]])
  assert.deepEqual(parsed.announce, trackers)
  assert.deepEqual(parsed.urlList, webSeeds)
})

test('a folder torrent made by seedcast reads the same in parse-torrent', async () => {
  const parsed = await createWithSeedcast('folder', 'seedcast-folder.torrent', '--piece-length', '65536', '--private')
  const ours = seedcastJson('info', join(root, 'seedcast-folder.torrent'))

  assert.equal(parsed.infoHash, ours.info_hash)
  assert.equal(parsed.pieceLength, 65536)
  assert.equal(parsed.private, true)
  assert.deepEqual(
    parsed.files.map(f => [slashPath(f.path), f.length]),
    folderFiles.map(name => [name, files[name].length]),
    'same paths (sorted walk) and lengths'
  )
  assert.deepEqual(parsed.pieces, pieceHashes(folderFiles.map(name => files[name]), 65536))
  assert.deepEqual(ours.files.map(f => f.path), folderFiles)
})

test('torrents made by create-torrent read the same in seedcast', async () => {
  for (const [input, opts] of [
    ['single.bin', {}],
    ['folder', { private: true }],
    ['folder', { pieceLength: 32768 }]
  ]) {
    const torrent = await createTorrentAsync(join(root, input), {
      announceList: trackers.map(t => [t]), urlList: webSeeds, comment: 'made by create-torrent', ...opts
    })
    const reference = await parseTorrent(torrent)
    const file = join(root, `create-torrent-${input}.torrent`)
    writeFileSync(file, torrent)
    const ours = seedcastJson('info', file)

    assert.equal(ours.info_hash, reference.infoHash, input)
    assert.equal(ours.name, reference.name)
    assert.equal(ours.piece_length, reference.pieceLength)
    assert.equal(ours.num_pieces, reference.pieces.length)
    assert.equal(ours.length, reference.length)
    assert.equal(ours.private, Boolean(reference.private))
    assert.deepEqual(ours.files.map(f => [f.path, f.length]), reference.files.map(f => [slashPath(f.path), f.length]))
    assert.deepEqual(ours.trackers, reference.announce)
    assert.deepEqual(ours.web_seeds, reference.urlList)
    assert.equal(ours.comment, 'made by create-torrent')
    assert.equal(typeof ours.creation_date, 'number', 'create-torrent always writes a date')
  }
})

test('both tools give the same info hash for the same content and piece length', async () => {
  const reference = await parseTorrent(await createTorrentAsync(join(root, 'single.bin'), { pieceLength: 16384 }))
  const ours = await createWithSeedcast('single.bin', 'same-single.torrent', '--piece-length', '16384')
  assert.equal(ours.infoHash, reference.infoHash)

  const referenceFolder = await parseTorrent(await createTorrentAsync(join(root, 'folder'), { pieceLength: 16384 }))
  const referenceOrder = referenceFolder.files.map(f => slashPath(f.path))
  const oursFolder = await createWithSeedcast('folder', 'same-folder.torrent', '--piece-length', '16384')
  // create-torrent keeps the directory-listing order; when that is the sorted order (usual on
  // Linux), the info dictionaries are identical byte for byte.
  if (referenceOrder.join() === folderFiles.join()) {
    assert.equal(oursFolder.infoHash, referenceFolder.infoHash)
  } else {
    assert.deepEqual([...referenceOrder].sort(), folderFiles)
  }
})

test('magnet links agree in both directions', async () => {
  const ours = seedcastJson('info', join(root, 'seedcast-single.torrent'))
  const fromOurs = await parseTorrent(ours.magnet)
  assert.equal(fromOurs.infoHash, ours.info_hash)
  assert.equal(fromOurs.name, 'single.bin')
  assert.deepEqual(fromOurs.announce, trackers)
  assert.deepEqual(fromOurs.urlList, webSeeds)

  const theirs = toMagnetURI({
    infoHash: ours.info_hash, name: 'name with spaces + & signs/é', announce: trackers, urlList: webSeeds
  })
  const read = seedcastJson('info', theirs)
  assert.equal(read.info_hash, ours.info_hash)
  assert.equal(read.name, 'name with spaces + & signs/é')
  assert.deepEqual(read.trackers, trackers)
  assert.deepEqual(read.web_seeds, webSeeds)
  assert.equal(read.files, null, 'unknown until metadata is fetched')
})
