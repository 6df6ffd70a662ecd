// `seedcast-signal --chain` / `--tip-jar`: the operator chooses the chain the web app tips on; it is
// validated at startup and served as /chain.json (never cached, never taken from a request).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serverBinary, startServer, stopServer } from './server.mjs'

const TIP_JAR = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const dir = mkdtempSync(join(tmpdir(), 'seedcast-chain-'))

function file (name, body) {
  const path = join(dir, name)
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body))
  return path
}

async function chainJson (args) {
  const server = await startServer(['--www', '/nonexistent', ...args])
  try {
    const response = await fetch(`${server.httpUrl}/chain.json?chain=donau&tipJar=0x0000000000000000000000000000000000000001`)
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('cache-control'), 'no-store')
    assert.match(response.headers.get('content-type'), /^application\/json/)
    return await response.json()
  } finally {
    await stopServer(server)
  }
}

/** Runs the binary expecting it to refuse to start; resolves to { code, stderr }. */
function refused (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(serverBinary(), ['--listen', '127.0.0.1:0', '--www', '/nonexistent', '--log', 'warn', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Without a backtrace, as an operator runs it (anyhow appends one when RUST_BACKTRACE is set).
      env: { ...process.env, RUST_BACKTRACE: '0', RUST_LIB_BACKTRACE: '0' },
    })
    let stderr = ''
    let stdout = ''
    child.stderr.on('data', chunk => { stderr += chunk })
    child.stdout.on('data', chunk => { stdout += chunk })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`it started: ${stdout}`)) }, 15000)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, stderr: stderr.trim(), stdout }) })
  })
}

test('default: BitTorrent Chain mainnet, tips straight to creators; query parameters change nothing', { timeout: 30000 }, async () => {
  const chain = await chainJson([])
  assert.equal(chain.id, 199)
  assert.equal(chain.tipJar, null)
  assert.equal(chain.explorer, 'https://bttcscan.com')
  assert.ok(chain.rpcUrls.length > 0)
})

test('--chain donau --tip-jar, and a chain file (a local node), are served as given', { timeout: 30000 }, async () => {
  const donau = await chainJson(['--chain', 'donau', '--tip-jar', TIP_JAR])
  assert.equal(donau.id, 1029)
  assert.equal(donau.tipJar, TIP_JAR)

  const local = { id: 31337, name: 'Local anvil', rpcUrls: ['http://127.0.0.1:8545'], explorer: 'http://127.0.0.1:4000/' }
  assert.deepEqual(await chainJson(['--chain', file('local.json', local)]), { ...local, explorer: 'http://127.0.0.1:4000', tipJar: null, tipJarFromBlock: null })
  // --tip-jar replaces the file's.
  const withJar = await chainJson(['--chain', file('jar.json', { ...local, tipJar: '0x' + '11'.repeat(20) }), '--tip-jar', TIP_JAR])
  assert.equal(withJar.tipJar, TIP_JAR)
})

test('a bad chain refuses to start with one line saying why', { timeout: 60000 }, async () => {
  const good = { id: 199, name: 'X', rpcUrls: ['https://rpc.example'], explorer: 'https://scan.example' }
  const cases = [
    [['--chain', 'mainnet'], /cannot read chain file mainnet/],
    [['--chain', file('big.json', JSON.stringify({ ...good, name: 'y'.repeat(5000) }))], /larger than 4096 bytes/],
    [['--chain', file('array.json', '[1, 2]')], /chain file .*array\.json/],
    [['--chain', file('typo.json', { ...good, tipjar: TIP_JAR })], /unknown field "tipjar"/],
    [['--chain', file('noid.json', { ...good, id: 0 })], /chain\.id/],
    [['--chain', file('js.json', { ...good, explorer: 'javascript:alert(1)' })], /explorer/],
    [['--chain', file('norpc.json', { ...good, rpcUrls: [] })], /rpcUrls/],
    [['--tip-jar', '0x1234'], /--tip-jar: chain\.tipJar/],
    // A mixed-case address with a wrong EIP-55 checksum is a typo, not an address.
    [['--tip-jar', TIP_JAR.replace('F', 'f')], /--tip-jar: chain\.tipJar/],
    [['--chain', file('preset.json', '"donau"')], /expected a JSON object/],
  ]
  for (const [args, why] of cases) {
    const { code, stderr } = await refused(args)
    assert.notEqual(code, 0, `${args.join(' ')} must not start`)
    assert.match(stderr, why, `${args.join(' ')}`)
    assert.equal(stderr.split('\n').length, 1, `one line for ${args.join(' ')}: ${stderr}`)
  }
})

test('--help documents --chain and --tip-jar', { timeout: 30000 }, async () => {
  const help = await new Promise((resolve) => {
    const child = spawn(serverBinary(), ['--help'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', chunk => { out += chunk })
    child.on('exit', () => resolve(out))
  })
  assert.match(help, /--chain <bttc\|donau\|FILE\.json>/)
  assert.match(help, /--tip-jar <0x…>/)
})
