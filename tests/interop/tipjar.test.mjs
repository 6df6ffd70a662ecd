// The TipJar contract: reproducible from source with the pinned solc, deployed by scripts/deploy-tipjar.mjs to a real
// EVM node (anvil, chain 199, paris rules like the contract's target), tips forwarded and logged, refusals refunded.
// Run: node --test tests/interop/tipjar.test.mjs
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

import {
  createPublicClient, createWalletClient, decodeEventLog, encodeFunctionData, getAddress, http, keccak256, pad,
  parseEther, toBytes, toHex, BaseError, ContractFunctionRevertedError
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

import { ARTIFACT_PATH, PINNED_SOLC, compileSources, compileTipJar, serialize } from '../../scripts/compile-tipjar.mjs'
import { startAnvil } from './anvil.mjs'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const compileScript = join(repo, 'scripts/compile-tipjar.mjs')
const deployScript = join(repo, 'scripts/deploy-tipjar.mjs')
const artifact = JSON.parse(readFileSync(ARTIFACT_PATH, 'utf8'))
const { abi } = artifact

const dir = mkdtempSync(join(tmpdir(), 'seedcast-tipjar-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

test('a fresh compile with the pinned solc reproduces the checked-in artifact byte for byte', () => {
  const fresh = compileTipJar()
  assert.equal(fresh.compiler.version, PINNED_SOLC)
  assert.deepEqual(fresh.settings, {
    optimizer: { enabled: true, runs: 200 }, evmVersion: 'paris', metadata: { bytecodeHash: 'none' }
  })
  assert.equal(fresh.bytecode, artifact.bytecode)
  assert.equal(fresh.deployedBytecode, artifact.deployedBytecode)
  assert.equal(serialize(fresh), readFileSync(ARTIFACT_PATH, 'utf8'))
})

test('the deployed code uses no opcode newer than paris (BTTC is a Bor fork)', () => {
  // PUSH0 (Shanghai), TLOAD/TSTORE/MCOPY/BLOBHASH/BLOBBASEFEE (Cancun). Walks opcodes, skipping PUSH data.
  const newer = new Map([
    [0x5f, 'PUSH0'], [0x5c, 'TLOAD'], [0x5d, 'TSTORE'], [0x5e, 'MCOPY'], [0x49, 'BLOBHASH'], [0x4a, 'BLOBBASEFEE']
  ])
  for (const field of ['bytecode', 'deployedBytecode']) {
    const code = toBytes(artifact[field])
    const found = []
    // Stop at the first INVALID (0xfe): what follows in solc output is data (CBOR metadata), not code.
    for (let i = 0; i < code.length && code[i] !== 0xfe; i++) {
      if (newer.has(code[i])) found.push(`${newer.get(code[i])} at ${i}`)
      if (code[i] >= 0x60 && code[i] <= 0x7f) i += code[i] - 0x5f
    }
    assert.deepEqual(found, [], field)
  }
})

test('--check fails with a one-line summary when the artifact is stale, and passes on the checked-in one', async () => {
  const { stdout } = await run(process.execPath, [compileScript, '--check'])
  assert.match(stdout, /is up to date/)

  const stale = join(dir, 'TipJar.json')
  const deployed = artifact.deployedBytecode
  const flipped = deployed.slice(0, -2) + (deployed.endsWith('00') ? '01' : '00')
  writeFileSync(stale, serialize({ ...artifact, deployedBytecode: flipped }))
  const error = await run(process.execPath, [compileScript, '--check', '--out', stale]).then(() => null, e => e)
  assert.ok(error, '--check accepted a stale artifact')
  assert.equal(error.code, 1)
  const lines = error.stderr.trim().split('\n')
  assert.equal(lines.length, 1, error.stderr)
  assert.match(lines[0], /differs from a fresh compile \(deployedBytecode\)/)
})

test('tip() calldata for the shared vector: viem agrees with the ABI spec laid out by hand', () => {
  const creator = '0x000000000000000000000000000000000000dEaD'
  const infoHash = '0x0102030405060708090a0b0c0d0e0f1011121314'
  const message = 'thanks!'
  const data = encodeFunctionData({ abi, functionName: 'tip', args: [creator, infoHash, message] })
  // The coordinator's Rust encoder is checked against this same vector.
  console.log(`tip(${creator}, ${infoHash}, "${message}") calldata: ${data}`)

  const word = hex => hex.padStart(64, '0')
  const selector = keccak256(toHex('tip(address,bytes20,string)')).slice(2, 10)
  const expected = '0x' + selector +
    word('dead') + // address, left-padded
    '0102030405060708090a0b0c0d0e0f1011121314'.padEnd(64, '0') + // bytesN, right-padded
    word('60') + // offset of the string's tail: after the three head words
    word('07') + // string length in bytes
    Buffer.from(message).toString('hex').padEnd(64, '0')
  assert.equal(data, expected)
})

// ---- On a real node -------------------------------------------------------------------------------------------------

let node, publicClient, tipper, tipJar, tipperClient

/** A fresh address with no balance and no code, from a label (reproducible). */
const addressOf = label => privateKeyToAccount(keccak256(toHex(`seedcast tipjar test ${label}`))).address
/** An indexed bytes20 topic: the value left-aligned in 32 bytes. */
const bytes20Topic = hex => pad(hex, { dir: 'right', size: 32 })
const balance = address => publicClient.getBalance({ address })

/** Deploys inline Solidity with the pinned solc and the TipJar's settings; returns the address. */
async function deployInline (name, source, args = []) {
  const { [name]: c } = compileSources({ [`${name}.sol`]: source })
  const hash = await tipperClient.deployContract({ abi: c.abi, bytecode: c.bytecode, args })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success')
  return getAddress(receipt.contractAddress) // receipts carry it in lower case
}

/** Sends tip(...) and returns its receipt plus what it cost the tipper in gas. */
async function sendTip ({ to = tipJar, creator, infoHash = '0x' + '00'.repeat(20), message = '', value, data, gas }) {
  const hash = await tipperClient.sendTransaction({
    to,
    value,
    data: data ?? encodeFunctionData({ abi, functionName: 'tip', args: [creator, infoHash, message] }),
    gas // explicit for refusals: otherwise estimation would refuse before anything is sent
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  return { receipt, gasCost: receipt.gasUsed * receipt.effectiveGasPrice }
}

/** The custom error name and args a tip() call reverts with (eth_call), or throws if it does not revert. */
async function revertOf ({ creator, infoHash = '0x' + '00'.repeat(20), message = '', value }) {
  try {
    await publicClient.simulateContract({
      account: tipper, address: tipJar, abi, functionName: 'tip', args: [creator, infoHash, message], value
    })
  } catch (error) {
    const reverted = error instanceof BaseError && error.walk(e => e instanceof ContractFunctionRevertedError)
    assert.ok(reverted, `not a revert: ${error.message}`)
    return { name: reverted.data?.errorName, args: reverted.data?.args }
  }
  assert.fail('tip() did not revert')
}

/** A refused tip is mined as reverted and costs the tipper gas only; the creator and the TipJar get nothing. */
async function assertRefused (tx, creator) {
  const [tipperBefore, creatorBefore] = await Promise.all([balance(tipper.address), creator ? balance(creator) : 0n])
  const { receipt, gasCost } = await sendTip({ ...tx, creator, gas: 300_000n })
  assert.equal(receipt.status, 'reverted')
  assert.equal(await balance(tipper.address), tipperBefore - gasCost, 'the tipper keeps the tip, pays only gas')
  // (Not checked for the zero address: it is anvil's coinbase and collects the priority fees.)
  if (creator && BigInt(creator) !== 0n) assert.equal(await balance(creator), creatorBefore)
  assert.equal(await balance(tipJar), 0n)
}

describe('on a real node: anvil, chain 199, paris rules', () => {
  before(async () => {
    node = await startAnvil({ chainId: 199, hardfork: 'paris' })
    const transport = http(node.url)
    publicClient = createPublicClient({ transport })
    tipper = privateKeyToAccount(node.accounts[1].privateKey)
    const chain = {
      id: 199,
      name: 'anvil',
      nativeCurrency: { name: 'BitTorrent', symbol: 'BTT', decimals: 18 },
      rpcUrls: { default: { http: [node.url] } }
    }
    tipperClient = createWalletClient({ account: tipper, chain, transport })

    const keyFile = join(dir, 'deployer.key')
    writeFileSync(keyFile, node.accounts[0].privateKey + '\n', { mode: 0o600 })
    const { stdout } = await run(process.execPath,
      [deployScript, '--rpc', node.url, '--key-file', keyFile, '--chain-id', '199'])
    assert.match(stdout, /^chain id 199$/m)
    tipJar = stdout.trim().split('\n').at(-1)
    assert.match(tipJar, /^0x[0-9a-fA-F]{40}$/)
    assert.equal(await publicClient.getCode({ address: tipJar }), artifact.deployedBytecode)
  })

  after(() => node?.stop())

  test('deploy-tipjar refuses another chain, a bad key file, no funds and no RPC, in one line each', async () => {
    const keyFile = join(dir, 'deployer.key')
    const fails = async (...args) => {
      const error = await run(process.execPath, [deployScript, ...args]).then(() => null, e => e)
      assert.ok(error, `deploy-tipjar ${args.join(' ')} succeeded`)
      assert.equal(error.stderr.trim().split('\n').length, 1, error.stderr)
      return error.stderr
    }
    assert.match(await fails('--rpc', node.url, '--key-file', keyFile, '--chain-id', '1029'),
      /^error: .* is chain 199, not 1029/)
    const badKey = join(dir, 'bad.key')
    writeFileSync(badKey, 'secret-but-not-a-key\n')
    const badKeyError = await fails('--rpc', node.url, '--key-file', badKey)
    assert.match(badKeyError, /^error: key file .*bad\.key: expected one line with a 0x-prefixed 32-byte hex/)
    assert.doesNotMatch(badKeyError, /secret-but-not-a-key/, 'never echoes the key file')
    const poorKey = join(dir, 'poor.key')
    writeFileSync(poorKey, keccak256(toHex('seedcast tipjar test poor deployer')) + '\n')
    assert.match(await fails('--rpc', node.url, '--key-file', poorKey),
      /^error: insufficient funds: 0x[0-9a-fA-F]{40} has 0, deploying needs about/)
    assert.match(await fails('--rpc', 'http://127.0.0.1:9', '--key-file', keyFile),
      /^error: cannot reach RPC http:\/\/127\.0\.0\.1:9/)
  })

  test('deploy-tipjar --dry-run prints the estimated cost and sends nothing', async () => {
    const keyFile = join(dir, 'deployer.key')
    const nonce = () => publicClient.getTransactionCount({ address: node.accounts[0].address })
    const before = await nonce()
    const { stdout } = await run(process.execPath,
      [deployScript, '--rpc', node.url, '--key-file', keyFile, '--dry-run'])
    assert.match(stdout, /^estimated gas \d+ at \d+ wei\/gas = [0-9.]+ \(native coin\)$/m)
    assert.equal(stdout.trim().split('\n').at(-1), 'dry run: nothing sent')
    assert.equal(await nonce(), before)
  })

  test('a 1.5 BTT tip reaches the creator exactly, nothing stays in the TipJar, logs list it per work', async () => {
    const creator = addressOf('creator')
    const infoHash = '0x' + 'ab'.repeat(20)
    const otherWork = '0x' + 'cd'.repeat(20)
    const amount = parseEther('1.5')
    assert.equal(amount, 1_500_000_000_000_000_000n)
    const [creatorBefore, tipperBefore] = await Promise.all([balance(creator), balance(tipper.address)])

    const { receipt, gasCost } = await sendTip({ creator, infoHash, message: 'great video ✨', value: amount })
    assert.equal(receipt.status, 'success')
    assert.equal(await balance(creator) - creatorBefore, 1_500_000_000_000_000_000n)
    assert.equal(await balance(tipJar), 0n)
    assert.equal(await balance(tipper.address), tipperBefore - amount - gasCost)
    // Another tip to the same creator for another work, which the info-hash filter must leave out.
    await sendTip({ creator, infoHash: otherWork, message: 'other', value: 1n })

    const tipTopic = keccak256(toHex('Tip(address,bytes20,address,uint256,string)'))
    const logs = await node.rpc('eth_getLogs', [{
      fromBlock: '0x0', toBlock: 'latest', address: tipJar, topics: [tipTopic, pad(creator), bytes20Topic(infoHash)]
    }])
    assert.equal(logs.length, 1)
    const { eventName, args } = decodeEventLog({ abi, data: logs[0].data, topics: logs[0].topics })
    assert.equal(eventName, 'Tip')
    assert.deepEqual(args, { creator, infoHash, from: tipper.address, amount, message: 'great video ✨' })
    assert.equal(logs[0].transactionHash, receipt.transactionHash)

    const byCreator = await node.rpc('eth_getLogs',
      [{ fromBlock: '0x0', address: tipJar, topics: [tipTopic, pad(creator)] }])
    assert.equal(byCreator.length, 2, 'both works of the creator')
  })

  test('a message of exactly MAX_MESSAGE_BYTES bytes is accepted', async () => {
    assert.equal(await publicClient.readContract({ address: tipJar, abi, functionName: 'MAX_MESSAGE_BYTES' }), 280n)
    const creator = addressOf('long message')
    const { receipt } = await sendTip({ creator, message: 'x'.repeat(280), value: 7n })
    assert.equal(receipt.status, 'success')
    assert.equal(await balance(creator), 7n)
  })

  test('refused tips revert with a named error and the tipper keeps the money (minus gas)', async () => {
    const creator = addressOf('refusals')
    const value = parseEther('1')

    assert.deepEqual(await revertOf({ creator, value: 0n }), { name: 'ZeroAmount', args: undefined })
    await assertRefused({ value: 0n }, creator)

    const zero = '0x0000000000000000000000000000000000000000'
    assert.deepEqual(await revertOf({ creator: zero, value }), { name: 'ZeroCreator', args: undefined })
    await assertRefused({ value }, zero)

    assert.deepEqual(await revertOf({ creator, value, message: 'x'.repeat(281) }),
      { name: 'MessageTooLong', args: [281n, 280n] })
    await assertRefused({ value, message: 'x'.repeat(281) }, creator)
    // The bound is in bytes of UTF-8, not characters: 141 × "é" is 282 bytes.
    assert.deepEqual(await revertOf({ creator, value, message: 'é'.repeat(141) }),
      { name: 'MessageTooLong', args: [282n, 280n] })
  })

  test('a plain transfer to the TipJar reverts: it has no receive or fallback', async () => {
    await assertRefused({ value: parseEther('1'), data: '0x' })
    await assert.rejects(publicClient.call({ account: tipper, to: tipJar, value: 1n }), /revert/i)
  })

  test('a creator contract that rejects the value makes the tip revert with TransferFailed', async () => {
    const rejecter = await deployInline('Rejecter', `// SPDX-License-Identifier: MIT
      pragma solidity 0.8.37;
      contract Rejecter { receive() external payable { revert("no tips"); } }`)
    assert.deepEqual(await revertOf({ creator: rejecter, value: parseEther('1') }),
      { name: 'TransferFailed', args: [rejecter] })
    await assertRefused({ value: parseEther('1') }, rejecter)
    // So is a tip to the TipJar itself: it refuses plain value.
    assert.deepEqual(await revertOf({ creator: tipJar, value: 1n }), { name: 'TransferFailed', args: [tipJar] })
  })

  test('a creator that re-enters tip() can only pass on its own tip; the TipJar still holds nothing', async () => {
    const final = addressOf('reentry final')
    const forwarder = await deployInline('Forwarder', `// SPDX-License-Identifier: MIT
      pragma solidity 0.8.37;
      interface ITipJar { function tip(address, bytes20, string calldata) external payable; }
      contract Forwarder {
        ITipJar immutable jar; address immutable to;
        constructor(ITipJar j, address t) { jar = j; to = t; }
        receive() external payable { jar.tip{value: msg.value}(to, bytes20(uint160(1)), "forwarded"); }
      }`, [tipJar, final])
    const { receipt } = await sendTip({ creator: forwarder, value: 5n, message: 'outer' })
    assert.equal(receipt.status, 'success')
    assert.equal(await balance(final), 5n)
    assert.equal(await balance(forwarder), 0n)
    assert.equal(await balance(tipJar), 0n)
    const tips = receipt.logs.map(l => decodeEventLog({ abi, data: l.data, topics: l.topics }).args)
    assert.deepEqual(tips.map(t => [t.creator, t.from, t.amount, t.message]),
      [[forwarder, tipper.address, 5n, 'outer'], [final, forwarder, 5n, 'forwarded']], 'logs in call order')
  })
})
