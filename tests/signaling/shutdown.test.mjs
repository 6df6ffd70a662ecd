// The binary's signal handling: SIGTERM closes every WebSocket with a close frame (1001) and exits 0.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { startServer, stopServer } from './server.mjs'

test('SIGTERM closes sockets with 1001 Going Away and exits cleanly', { timeout: 30000 }, async () => {
  const server = await startServer(['--www', '/nonexistent'])
  const ws = new WebSocket(`${server.wsUrl}/announce`)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const closed = new Promise(resolve => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  const exitCode = await stopServer(server)
  assert.deepEqual(await closed, { code: 1001, reason: 'server shutting down' })
  assert.equal(exitCode, 0)
})

test('the tracker answers on both ws://host:port and ws://host:port/announce', { timeout: 30000 }, async () => {
  const server = await startServer(['--www', '/nonexistent'])
  try {
    for (const path of ['', '/announce']) {
      const ws = new WebSocket(`${server.wsUrl}${path}`)
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
      const reply = new Promise(resolve => ws.once('message', data => resolve(JSON.parse(data.toString()))))
      ws.send(JSON.stringify({ action: 'scrape' }))
      assert.deepEqual(await reply, { action: 'scrape', files: {} })
      ws.close()
    }
  } finally {
    await stopServer(server)
  }
})
