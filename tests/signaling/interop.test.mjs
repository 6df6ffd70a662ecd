// Interop with the real WebTorrent (npm, 3.x) in headless Chromium: two clients find each other through
// seedcast-signal, transfer a file over WebRTC, and one scrapes the tracker.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { repoRoot, startServer, stopServer, waitFor } from './server.mjs'

const FILE_SIZE = 512 * 1024
let server, browser, www

/** Rejects with `what` if `promise` takes longer than `ms`. */
function within (ms, what, promise) {
  let timer
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

before(async () => {
  www = mkdtempSync(join(tmpdir(), 'seedcast-signal-interop-'))
  copyFileSync(join(repoRoot, 'tests/signaling/www/interop.html'), join(www, 'index.html'))
  copyFileSync(join(repoRoot, 'tests/signaling/www/interop.js'), join(www, 'interop.js'))
  copyFileSync(join(repoRoot, 'tests/node_modules/webtorrent/dist/webtorrent.min.js'), join(www, 'webtorrent.min.js'))
  server = await startServer(['--www', www])
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
      // Chromium honours only the last --disable-features flag: keep this the only one.
      '--disable-features=WebRtcHideLocalIpsWithMdns'
    ]
  })
})

after(async () => {
  await browser?.close()
  if (server) await stopServer(server)
  if (www) rmSync(www, { recursive: true, force: true })
})

async function openClient () {
  // A context each, so the two WebTorrent clients share nothing but the tracker.
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(`${server.httpUrl}/`)
  await within(15000, 'WebTorrent to load in the page', page.waitForFunction(() => window.interopReady === true))
  return page
}

test('two WebTorrent clients in Chromium find each other, transfer a file, and scrape', { timeout: 90000 }, async () => {
  const seeder = await openClient()
  const leecher = await openClient()
  const diagnostics = async () =>
    `seeder: ${JSON.stringify(await seeder.evaluate(() => window.warnings()))}; ` +
    `leecher: ${JSON.stringify(await leecher.evaluate(() => window.warnings()))}; server stderr: ${server.stderr()}`

  // The seeder uses the bare ws://host:port form, the leecher ws://host:port/announce: both must work.
  const seeded = await seeder.evaluate(([tracker, size]) => window.seedRandomFile(tracker, size), [server.wsUrl, FILE_SIZE])
  const magnet = `magnet:?xt=urn:btih:${seeded.infoHash}&dn=seedcast-interop.bin&tr=${encodeURIComponent(`${server.wsUrl}/announce`)}`
  const downloaded = await within(60000, 'the download to finish', leecher.evaluate(m => window.download(m), magnet))
    .catch(async err => { throw new Error(`${err.message}; ${await diagnostics()}`) })
  assert.equal(downloaded.length, FILE_SIZE)
  assert.equal(downloaded.digest, seeded.digest, 'the leecher got the seeder’s exact bytes')

  // The leecher announces `completed` shortly after finishing; scrape until the tracker has seen it.
  let scraped
  await waitFor(() => `the tracker to count 2 complete peers; last scrape: ${JSON.stringify(scraped)}`, async () => {
    scraped = await within(10000, 'a scrape reply', leecher.evaluate(h => window.scrape(h), seeded.infoHash))
    return scraped.complete === 2
  }, { ms: 15000, everyMs: 100 }).catch(async err => { throw new Error(`${err.message}; ${await diagnostics()}`) })
  const context = `scrape after the transfer: ${JSON.stringify(scraped)}; ${await diagnostics()}`
  assert.equal(scraped.complete, 2, context)
  assert.equal(scraped.incomplete, 0, context)
  // WebTorrent may also send `completed` from the seeder, so at least the leecher's download counts.
  assert.ok(scraped.downloaded >= 1, context)

  const stats = await (await fetch(`${server.httpUrl}/stats`)).json()
  assert.ok(stats.offers_relayed >= 1 && stats.answers_relayed >= 1, `the tracker relayed the handshake: ${JSON.stringify(stats)}`)
  assert.equal(stats.swarms, 1)
})
