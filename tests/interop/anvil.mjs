// A real EVM node for tests: anvil 1.7.1 from npm (@foundry-rs/anvil), on a free port picked by anvil itself.
//   const node = await startAnvil({ chainId: 199 })
//   node.url, node.port, node.accounts[0].address / .privateKey, await node.rpc('eth_chainId'), await node.stop()
// ANVIL_BIN overrides the binary (the default is the linux-amd64 one npm installs).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const anvilBin = process.env.ANVIL_BIN ??
  fileURLToPath(new URL('../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil', import.meta.url))

/** How long anvil may take to print its address and answer eth_chainId (slow shared machines). */
const START_TIMEOUT_MS = 30_000
/** Startup output kept for error messages and parsing; anvil's banner is ~3 KB. */
const MAX_OUTPUT_CHARS = 64 * 1024

const running = new Set()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts anvil with `--chain-id chainId` (and `--hardfork` when given; `args` are passed through) and resolves once it
 * answers eth_chainId with that id. `accounts` are anvil's funded, unlocked dev accounts (10000 ETH each) derived from
 * its default mnemonic "test test … junk", read from its startup output: accounts[0] is
 * 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
 * with key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80.
 */
export async function startAnvil ({ chainId = 199, hardfork, args = [] } = {}) {
  const argv = ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId), ...args]
  if (hardfork) argv.push('--hardfork', hardfork)
  const child = spawn(anvilBin, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  const exited = new Promise(resolve => child.once('exit', (code, signal) => {
    running.delete(child)
    resolve({ code, signal })
  }))

  let output = ''
  const keep = chunk => { if (output.length < MAX_OUTPUT_CHARS) output += chunk }
  child.stdout.setEncoding('utf8').on('data', keep)
  child.stderr.setEncoding('utf8').on('data', keep)

  // anvil must not keep the test process alive: unreferenced, and killed at exit (above) if never stopped.
  child.unref()
  child.stdout.unref()
  child.stderr.unref()
  const stop = async () => {
    child.ref() // until its exit event
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }

  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`anvil did not start in ${START_TIMEOUT_MS} ms:\n${output}`)),
        START_TIMEOUT_MS)
      const onData = () => {
        const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(output)
        if (m) {
          clearTimeout(timer)
          child.stdout.off('data', onData)
          resolve(Number(m[1]))
        }
      }
      child.stdout.on('data', onData)
      exited.then(({ code, signal }) => {
        clearTimeout(timer)
        reject(new Error(`anvil exited (${signal ?? code}) before listening:\n${output}`))
      })
    })
    const url = `http://127.0.0.1:${port}`
    const rpc = jsonRpc(url)
    const accounts = parseAccounts(output)
    // Listening is printed just before the server accepts; wait until it really answers (no fixed sleep).
    const deadline = Date.now() + START_TIMEOUT_MS
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      try {
        const id = await rpc('eth_chainId')
        if (Number(id) !== chainId) throw new Error(`anvil answers chain id ${Number(id)}, asked for ${chainId}`)
        break
      } catch (error) {
        if (/asked for/.test(error.message) || Date.now() > deadline) throw error
        await new Promise(resolve => setTimeout(resolve, delay))
      }
    }
    return { url, port, accounts, rpc, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** The "Available Accounts" and "Private Keys" sections of anvil's banner, zipped by index. */
function parseAccounts (output) {
  const section = title => {
    const start = output.indexOf(title)
    if (start < 0) return []
    const rest = output.slice(start).split('\n\n')[1] ?? ''
    return [...rest.matchAll(/^\((\d+)\) (0x[0-9a-fA-F]+)/gm)].map(m => m[2])
  }
  const addresses = section('Available Accounts')
  const keys = section('Private Keys')
  if (addresses.length === 0 || addresses.length !== keys.length) {
    throw new Error(`could not read anvil's dev accounts from its output:\n${output}`)
  }
  return addresses.map((address, i) => ({ address, privateKey: keys[i] }))
}

/** rpc(method, params) → result; a JSON-RPC error throws an Error carrying its `code` and `data`. */
function jsonRpc (url) {
  let id = 0
  return async (method, params = []) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params })
    })
    const body = await response.json()
    if (body.error) {
      const { code, message, data } = body.error
      throw Object.assign(new Error(`${method}: ${message}`), { code, data })
    }
    return body.result
  }
}
