// The seedcast-signal binary as an operator runs it: signals, both tracker URLs, the open-file limit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { startServer, stopServer, waitFor } from './server.mjs'

function open (url) {
  const ws = new WebSocket(url)
  return new Promise(resolve => {
    ws.once('open', () => resolve({ ws, ok: true }))
    ws.once('error', err => resolve({ ws, ok: false, error: err.message }))
  })
}

function scrape (ws) {
  const reply = new Promise(resolve => ws.once('message', data => resolve(JSON.parse(data.toString()))))
  ws.send(JSON.stringify({ action: 'scrape' }))
  return reply
}

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

test('at the open-file limit new connections get 503 and existing peers keep working', { timeout: 30000 }, async () => {
  // 200 descriptors: the server keeps 32 in reserve and accepts 168 WebSockets.
  const server = await startServer(['--www', '/nonexistent'], { openFiles: 200 })
  try {
    const attempts = []
    for (let i = 0; i < 190; i++) attempts.push(await open(`${server.wsUrl}/announce`))
    const opened = attempts.filter(a => a.ok)
    const refused = attempts.filter(a => !a.ok)
    assert.equal(opened.length, 168)
    assert.ok(refused.every(a => a.error.includes('503')), `refusals are HTTP 503: ${refused[0]?.error}`)
    for (const { ws } of opened) assert.equal((await scrape(ws)).action, 'scrape')
    // A freed place is usable again: once our close is acknowledged, the server frees it as soon as it
    // has seen the socket end, which takes a moment longer; until then a connection is still refused.
    const closed = new Promise(resolve => opened[0].ws.once('close', resolve))
    opened[0].ws.close()
    await closed
    let last
    const again = await waitFor(() => `a reconnect after a close to be accepted (last: ${last.error})`, async () => {
      last = await open(`${server.wsUrl}/announce`)
      return last.ok && last
    }, { ms: 5000 })
    for (const { ws } of [...opened, again]) ws.close()
    assert.doesNotMatch(server.stderr(), /accept error/, 'the server never ran out of descriptors')
  } finally {
    await stopServer(server)
  }
})
