// Channel manifests cross-checked against an independent EIP-712 implementation (viem).
// Run: cargo build -p seedcast --bins && node --test tests/interop/channel.test.mjs
//      (SEEDCAST_BIN overrides the binary)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { keccak256, recoverTypedDataAddress, toBytes, verifyTypedData, zeroHash } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

import { pseudoRandomBytes, seedcast, seedcastFails, seedcastJson } from './formats-fixtures.mjs'

const root = mkdtempSync(join(tmpdir(), 'seedcast-channel-'))
process.on('exit', () => rmSync(root, { recursive: true, force: true }))

// Fixed keys so a failure reproduces: keccak256 of a label.
const aliceKey = keccak256(new TextEncoder().encode('seedcast channel test alice'))
const bobKey = keccak256(new TextEncoder().encode('seedcast channel test bob'))
const alice = privateKeyToAccount(aliceKey)
const bob = privateKeyToAccount(bobKey)
const keyFile = join(root, 'alice.key')
writeFileSync(keyFile, aliceKey + '\n')

/** Two works made by the CLI from real torrents; the first with a PNG poster. */
function works () {
  return [1, 2].map((n) => {
    const video = join(root, `film ${n}.webm`)
    writeFileSync(video, pseudoRandomBytes(50_000 + n, n))
    const torrent = join(root, `film${n}.torrent`)
    seedcast('create', video, '-o', torrent, '--tracker', 'wss://tracker.example/announce')
    const info = seedcastJson('info', torrent)
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.from([n])])
    return {
      infoHash: info.info_hash,
      magnet: info.magnet,
      title: n === 1 ? 'Ada’s first “film” \\ é' : 'Second',
      poster: n === 1 ? 'data:image/png;base64,' + png.toString('base64') : null,
      published: n === 1 ? 1764700000 : Number.MAX_SAFE_INTEGER
    }
  })
}

function unsignedManifest (address) {
  return { address, name: 'Ada "the" Lovelace', sequence: Number.MAX_SAFE_INTEGER - 1, works: works() }
}

/** The typed data, built here from the manifest alone (not from seedcast's typed data). */
function typedDataOf (manifest) {
  return {
    domain: { name: 'Seedcast', version: '1' },
    primaryType: 'Channel',
    types: {
      Channel: [
        { name: 'creator', type: 'address' },
        { name: 'name', type: 'string' },
        { name: 'sequence', type: 'uint64' },
        { name: 'works', type: 'Work[]' }
      ],
      Work: [
        { name: 'infoHash', type: 'bytes20' },
        { name: 'magnet', type: 'string' },
        { name: 'title', type: 'string' },
        { name: 'poster', type: 'bytes32' },
        { name: 'published', type: 'uint64' }
      ]
    },
    message: {
      creator: manifest.address,
      name: manifest.name,
      sequence: BigInt(manifest.sequence),
      works: manifest.works.map((w) => ({
        infoHash: '0x' + w.infoHash,
        magnet: w.magnet,
        title: w.title,
        poster: w.poster === null ? zeroHash : keccak256(toBytes(w.poster)),
        published: BigInt(w.published)
      }))
    }
  }
}

/** eth_signTypedData_v4's object minus EIP712Domain, which viem derives from the domain itself. */
function forViem (typedData) {
  const { EIP712Domain, ...types } = typedData.types
  return { ...typedData, types }
}

function write (name, value) {
  const path = join(root, name)
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value))
  return path
}

test('a manifest signed by the CLI verifies in viem, from typed data rebuilt from the manifest', async () => {
  const unsigned = write('unsigned.json', unsignedManifest(alice.address))
  const manifest = JSON.parse(seedcast('channel', 'sign', unsigned, '--key', keyFile))
  assert.deepEqual(Object.keys(manifest), ['address', 'name', 'sequence', 'works', 'signature'])
  assert.deepEqual(Object.keys(manifest.works[0]), ['infoHash', 'magnet', 'title', 'poster', 'published'])
  assert.equal(manifest.address, alice.address)

  const typedData = typedDataOf(manifest)
  assert.equal(await verifyTypedData({ ...typedData, address: alice.address, signature: manifest.signature }), true)
  assert.equal(await recoverTypedDataAddress({ ...typedData, signature: manifest.signature }), alice.address)
  // RFC 6979: viem signing the same typed data with the same key gives the same signature.
  assert.equal(await alice.signTypedData(typedData), manifest.signature)

  // The CLI's typed data is what a wallet takes: the same message, poster as its hash.
  const printed = JSON.parse(seedcast('channel', 'sign', unsigned, '--typed-data'))
  assert.deepEqual(printed.types.EIP712Domain, [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }])
  assert.deepEqual(forViem(printed).types, typedData.types)
  assert.equal(printed.message.works[0].poster, keccak256(toBytes(manifest.works[0].poster)))
  assert.equal(printed.message.works[1].poster, zeroHash)
  assert.equal(await verifyTypedData({ ...printed, address: alice.address, signature: manifest.signature }), true)
})

test('a manifest signed by viem verifies in seedcast, and only its signer', async () => {
  const unsigned = write('bob-unsigned.json', unsignedManifest(bob.address))
  // The "wallet" signs the typed data seedcast prints for the unsigned channel.
  const printed = JSON.parse(seedcast('channel', 'sign', unsigned, '--typed-data'))
  const signature = await bob.signTypedData(forViem(printed))

  // Assembled by hand (as a web page would) and checked by seedcast.
  const manifest = { ...unsignedManifest(bob.address), signature }
  const signedPath = write('bob-signed.json', manifest)
  const verified = JSON.parse(seedcast('channel', 'verify', signedPath, '--json'))
  assert.equal(verified.verified, true)
  assert.equal(verified.error, null)
  // And through --signature, which gives back the canonical manifest.
  const embedded = JSON.parse(seedcast('channel', 'sign', unsigned, '--signature', signature))
  assert.deepEqual(embedded, manifest)

  // Alice's signature over Bob's channel is refused.
  const forged = await alice.signTypedData(forViem(printed))
  assert.match(seedcastFails('channel', 'sign', unsigned, '--signature', forged).stderr, /^error: .*signed by 0x/)
  const forgedPath = write('forged.json', { ...manifest, signature: forged })
  const { stdout } = seedcastFails('channel', 'verify', forgedPath, '--json')
  assert.equal(JSON.parse(stdout).verified, false)
})

test('a tampered manifest fails in seedcast, and viem recovers someone else', async () => {
  const unsigned = write('alice-unsigned.json', unsignedManifest(alice.address))
  const manifest = JSON.parse(seedcast('channel', 'sign', unsigned, '--key', keyFile))
  const edits = [
    (m) => { m.name = 'Eve' },
    (m) => { m.sequence += 1 },
    (m) => { m.works[0].title = 'Edited' },
    (m) => { m.works[0].poster = null },
    (m) => { m.works[1].published -= 1 },
    (m) => { m.works.reverse() }
  ]
  for (const edit of edits) {
    const tampered = structuredClone(manifest)
    edit(tampered)
    const path = write('tampered.json', tampered)
    const { stdout } = seedcastFails('channel', 'verify', path, '--json')
    assert.equal(JSON.parse(stdout).verified, false, edit.toString())
    const recovered = await recoverTypedDataAddress({ ...typedDataOf(tampered), signature: manifest.signature })
    assert.notEqual(recovered, alice.address, edit.toString())
  }
})
