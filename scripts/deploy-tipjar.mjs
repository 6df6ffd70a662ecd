#!/usr/bin/env node
// Deploys the checked-in TipJar (crate/contracts/TipJar.json) with viem from tests/node_modules.
//   node scripts/deploy-tipjar.mjs --rpc URL --key-file FILE [--chain-id N] [--dry-run]
// FILE holds the deployer's 0x-prefixed 32-byte hex private key (never on the command line: it would land in shell
// history and `ps`). --chain-id defaults to 199 (BTTC mainnet) so a wrong RPC URL is refused before paying anything;
// pass 1029 for Donau, or the id of a local node. --dry-run stops after printing the estimated cost, sending nothing.
// The last line of stdout is the contract address.
import { createRequire } from 'node:module'
import { readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const requireFromTests = createRequire(join(root, 'tests/package.json'))
const { createPublicClient, createWalletClient, defineChain, formatEther, getAddress, http } = requireFromTests('viem')
const { privateKeyToAccount } = requireFromTests('viem/accounts')

const ARTIFACT_PATH = join(root, 'crate/contracts/TipJar.json')
const DEFAULT_CHAIN_ID = 199
/** A key file is one line: "0x" + 64 hex digits and maybe a newline; anything much bigger is not a key file. */
const MAX_KEY_FILE_BYTES = 256
/** Per-request RPC timeout; a deploy waits for its receipt separately (RECEIPT_TIMEOUT_MS). */
const RPC_TIMEOUT_MS = 30_000
/** BTTC makes a block every ~2 s; five minutes covers a congested mempool without hanging forever. */
const RECEIPT_TIMEOUT_MS = 5 * 60_000
const USAGE = 'usage: deploy-tipjar.mjs --rpc URL --key-file FILE [--chain-id N] [--dry-run]'

class Fail extends Error {}

function parseArgs (argv) {
  const opts = { chainId: DEFAULT_CHAIN_ID, dryRun: false }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    if (flag === '--dry-run') {
      opts.dryRun = true
      continue
    }
    const value = argv[i + 1]
    if (!['--rpc', '--key-file', '--chain-id'].includes(flag)) throw new Fail(`unknown argument ${flag} (${USAGE})`)
    if (value === undefined) throw new Fail(`${flag} needs a value (${USAGE})`)
    i++
    if (flag === '--rpc') {
      let url
      try {
        url = new URL(value)
      } catch {
        throw new Fail(`--rpc ${value}: not a URL`)
      }
      if (!['http:', 'https:'].includes(url.protocol)) throw new Fail(`--rpc ${value}: must be http(s)`)
      opts.rpc = value
    } else if (flag === '--key-file') {
      opts.keyFile = value
    } else {
      if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new Fail(`--chain-id ${value}: not a positive integer`)
      opts.chainId = Number(value)
    }
  }
  if (!opts.rpc || !opts.keyFile) throw new Fail(USAGE)
  return opts
}

/** The account from the key file; errors never echo the file's content. */
function readAccount (file) {
  let size
  try {
    size = statSync(file).size
  } catch (error) {
    throw new Fail(`key file ${file}: ${error.code === 'ENOENT' ? 'not found' : error.message}`)
  }
  if (size > MAX_KEY_FILE_BYTES) throw new Fail(`key file ${file}: too big for a key (${size} bytes)`)
  const text = readFileSync(file, 'utf8').trim()
  if (!/^0x[0-9a-fA-F]{64}$/.test(text)) {
    throw new Fail(`key file ${file}: expected one line with a 0x-prefixed 32-byte hex private key`)
  }
  try {
    return privateKeyToAccount(text)
  } catch {
    throw new Fail(`key file ${file}: not a valid secp256k1 private key`)
  }
}

/** The first line of a viem error, without its multi-line "Request body / Details / Version" tail. */
function short (error) {
  return String(error.shortMessage ?? error.message).split('\n')[0]
}

async function deploy ({ rpc, keyFile, chainId, dryRun }) {
  const artifact = JSON.parse(readFileSync(ARTIFACT_PATH, 'utf8'))
  const account = readAccount(keyFile)
  const transport = http(rpc, { timeout: RPC_TIMEOUT_MS, retryCount: 0 })
  const publicClient = createPublicClient({ transport })

  let actual
  try {
    actual = await publicClient.getChainId()
  } catch (error) {
    throw new Fail(`cannot reach RPC ${rpc}: ${short(error)}${error.details ? ` (${error.details})` : ''}`)
  }
  console.log(`chain id ${actual}`)
  if (actual !== chainId) {
    throw new Fail(`RPC ${rpc} is chain ${actual}, not ${chainId} (pass --chain-id ${actual} if intended)`)
  }

  const chain = defineChain({
    id: actual,
    name: `chain ${actual}`,
    nativeCurrency: { name: 'BitTorrent', symbol: 'BTT', decimals: 18 },
    rpcUrls: { default: { http: [rpc] } }
  })
  const [balance, gas, gasPrice] = await Promise.all([
    publicClient.getBalance({ address: account.address }),
    publicClient.estimateGas({ account, data: artifact.bytecode }).catch(error => {
      throw new Fail(/insufficient funds/i.test(error.message)
        ? `insufficient funds: ${account.address} cannot pay for the deployment`
        : `gas estimate failed: ${short(error)}`)
    }),
    publicClient.getGasPrice()
  ])
  const cost = gas * gasPrice
  console.log(`deployer ${account.address}, balance ${formatEther(balance)}`)
  console.log(`estimated gas ${gas} at ${gasPrice} wei/gas = ${formatEther(cost)} (native coin)`)
  if (balance < cost) {
    throw new Fail(`insufficient funds: ${account.address} has ${formatEther(balance)}, ` +
      `deploying needs about ${formatEther(cost)}`)
  }
  if (dryRun) {
    console.log('dry run: nothing sent')
    return
  }

  const wallet = createWalletClient({ account, chain, transport })
  let hash
  try {
    hash = await wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode })
  } catch (error) {
    throw new Fail(/insufficient funds/i.test(error.message)
      ? `insufficient funds: ${account.address} cannot pay for the deployment`
      : `sending the deployment failed: ${short(error)}`)
  }
  console.log(`transaction ${hash}`)
  let receipt
  try {
    receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: RECEIPT_TIMEOUT_MS })
  } catch (error) {
    throw new Fail(`no receipt for ${hash}: ${short(error)}`)
  }
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new Fail(`deployment ${hash} reverted`)
  console.log(`gas used ${receipt.gasUsed}, paid ${formatEther(receipt.gasUsed * receipt.effectiveGasPrice)}`)
  console.log(`deployed in block ${receipt.blockNumber} (a site's chain.tipJarFromBlock: where pages start counting tips)`)

  const code = await publicClient.getCode({ address: receipt.contractAddress })
  if (code?.toLowerCase() !== artifact.deployedBytecode.toLowerCase()) {
    throw new Fail(`code at ${receipt.contractAddress} differs from TipJar.json's deployedBytecode`)
  }
  console.log(getAddress(receipt.contractAddress)) // EIP-55, as a site's chain.tipJar would write it
}

try {
  await deploy(parseArgs(process.argv.slice(2)))
} catch (error) {
  console.error(`error: ${error instanceof Fail ? error.message : short(error)}`)
  process.exitCode = 1
}
