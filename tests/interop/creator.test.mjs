// Creator records cross-checked against an independent EIP-712 implementation (viem).
// Run: cargo build -p seedcast --bins && node --test tests/interop/creator.test.mjs
//      (SEEDCAST_BIN overrides the binary)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import bencode from 'bencode'
import parseTorrent from 'parse-torrent'
import { getAddress, keccak256, recoverTypedDataAddress, verifyTypedData } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

import { pseudoRandomBytes, seedcast, seedcastFails, seedcastJson } from './formats-fixtures.mjs'

const root = mkdtempSync(join(tmpdir(), 'seedcast-creator-'))
process.on('exit', () => rmSync(root, { recursive: true, force: true }))
const video = join(root, 'video.webm')
writeFileSync(video, pseudoRandomBytes(300_007, 7))

// Fixed keys so a failure reproduces: keccak256 of a label.
const aliceKey = keccak256(new TextEncoder().encode('seedcast creator test alice'))
const bobKey = keccak256(new TextEncoder().encode('seedcast creator test bob'))
const alice = privateKeyToAccount(aliceKey)
const bob = privateKeyToAccount(bobKey)
const keyFile = join(root, 'alice.key')
writeFileSync(keyFile, aliceKey + '\n')

/** eth_signTypedData_v4's object minus EIP712Domain, which viem derives from the domain itself. */
function forViem (typedData) {
  const { EIP712Domain, ...types } = typedData.types
  return { ...typedData, types }
}

test('a torrent signed with --creator-key verifies in viem, and viem agrees on what was signed', async () => {
  const out = join(root, 'alice.torrent')
  seedcast('create', video, '-o', out, '--creator-key', keyFile, '--creator-name', 'Alice')
  const { creator, info_hash: infoHash } = seedcastJson('info', out)

  assert.equal(creator.verified, true)
  assert.equal(creator.address, alice.address, 'EIP-55 checksummed, as viem writes it')
  assert.equal(creator.name, 'Alice')
  assert.deepEqual(Object.keys(creator.typed_data).sort(), ['domain', 'message', 'primaryType', 'types'])
  assert.deepEqual(creator.typed_data.types.EIP712Domain, [
    { name: 'name', type: 'string' }, { name: 'version', type: 'string' }
  ], 'domain without chainId: signable on any chain')
  const recovered = await recoverTypedDataAddress({ ...creator.typed_data, signature: creator.signature })
  assert.equal(recovered, alice.address)
  assert.equal(await verifyTypedData({ ...creator.typed_data, address: alice.address, signature: creator.signature }), true)
  // viem signing the same typed data with the same key gives the same (RFC 6979) signature.
  assert.equal(await alice.signTypedData(forViem(creator.typed_data)), creator.signature)

  // content = keccak256(canonical bencode of info without the record), recomputed here.
  const parsed = await parseTorrent(readFileSync(out))
  assert.equal(parsed.infoHash, infoHash, 'WebTorrent tools read the torrent and hash the record with info')
  const info = bencode.decode(parsed.infoBuffer)
  const record = info['seedcast creator']
  assert.equal(getAddress('0x' + Buffer.from(record.address).toString('hex')), alice.address)
  assert.equal(new TextDecoder().decode(record.name), 'Alice')
  delete info['seedcast creator']
  assert.equal(keccak256(bencode.encode(info)), creator.typed_data.message.content)
})

test('a signature made by viem embeds with --creator-signature and verifies in seedcast', async () => {
  const out = join(root, 'bob.torrent')
  const base = ['create', video, '-o', out, '--creator-address', bob.address, '--creator-name', 'Bob "the builder"']
  // Step 1: seedcast hashes the content and prints what to sign; nothing is written yet.
  const typedData = JSON.parse(seedcast(...base))
  assert.equal(typedData.message.creator, bob.address)
  assert.throws(() => readFileSync(out), /ENOENT/)
  // Step 2: the "wallet" signs; seedcast embeds the signature.
  const signature = await bob.signTypedData(forViem(typedData))
  seedcast(...base, '--creator-signature', signature)
  const { creator } = seedcastJson('info', out)
  assert.equal(creator.verified, true)
  assert.equal(creator.address, bob.address)
  assert.equal(creator.name, 'Bob "the builder"')
  assert.equal(creator.signature, signature)
  assert.deepEqual(creator.typed_data, typedData)

  // A signature by someone else, or for another name, is refused at creation.
  const mallorySignature = await alice.signTypedData(forViem(typedData))
  assert.match(seedcastFails(...base, '--creator-signature', mallorySignature).stderr, /^error: .*signed by 0x/)
  const otherName = await bob.signTypedData(forViem({ ...typedData, message: { ...typedData.message, name: 'Bobby' } }))
  assert.match(seedcastFails(...base, '--creator-signature', otherName).stderr, /^error: .*signed by 0x/)
})

test('a tampered record is unverified in seedcast and recovers another address in viem', async () => {
  const out = join(root, 'alice.torrent')
  seedcast('create', video, '-o', out, '--creator-key', keyFile, '--creator-name', 'Alice')
  const bytes = readFileSync(out)
  const at = bytes.indexOf('4:name5:Alice')
  assert.ok(at > 0)
  bytes.write('4:name5:Alicf', at)
  const tampered = join(root, 'tampered.torrent')
  writeFileSync(tampered, bytes)

  const { creator } = seedcastJson('info', tampered)
  assert.equal(creator.verified, false)
  assert.equal(creator.name, 'Alicf')
  assert.match(creator.error, /signed by 0x/)
  const recovered = await recoverTypedDataAddress({ ...creator.typed_data, signature: creator.signature })
  assert.notEqual(recovered, alice.address, 'viem agrees: not Alice')
  assert.match(seedcast('info', tampered), /creator: +UNVERIFIED/)
})

test('key files are strict and never echoed', () => {
  const bad = join(root, 'bad.key')
  const secret = aliceKey.slice(2)
  writeFileSync(bad, secret + '\n') // no 0x prefix
  const { stderr } = seedcastFails('create', video, '-o', join(root, 'x.torrent'), '--creator-key', bad)
  assert.match(stderr, /^error: .*not a private key/)
  assert.equal(stderr.trim().split('\n').length, 1)
  assert.ok(!stderr.includes(secret.slice(0, 16)), 'the key is not printed')
})
