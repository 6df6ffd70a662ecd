// The interop page's script (a file, not inline: seedcast-signal serves pages under a CSP
// that allows only same-origin scripts).
import WebTorrent from './webtorrent.min.js'

// No STUN/TURN here: host candidates on loopback are enough.
const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, dht: false, lsd: false })
const warnings = []
client.on('error', err => warnings.push(`client error: ${err.message ?? err}`))

async function sha256Hex (bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes)
  return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')
}

function watch (torrent) {
  torrent.on('warning', err => warnings.push(`torrent warning: ${err.message ?? err}`))
  torrent.on('error', err => warnings.push(`torrent error: ${err.message ?? err}`))
}

window.warnings = () => warnings

window.seedRandomFile = async (tracker, size) => {
  const data = new Uint8Array(size)
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(i + 65536, size)))
  const digest = await sha256Hex(data)
  const file = new File([data], 'seedcast-interop.bin')
  return new Promise(resolve => {
    client.seed(file, { announce: [tracker] }, torrent => {
      watch(torrent)
      resolve({ infoHash: torrent.infoHash, digest })
    })
  })
}

window.download = (magnetURI) => new Promise(resolve => {
  client.add(magnetURI, torrent => {
    watch(torrent)
    torrent.on('done', async () => {
      const bytes = new Uint8Array(await torrent.files[0].arrayBuffer())
      resolve({ digest: await sha256Hex(bytes), length: bytes.length })
    })
  })
})

// The torrent's own tracker client (bittorrent-tracker, inside WebTorrent) sends the scrape.
window.scrape = async (infoHash) => {
  const torrent = await client.get(infoHash)
  const tracker = torrent.discovery.tracker
  return new Promise(resolve => {
    tracker.once('scrape', data => resolve({ complete: data.complete, incomplete: data.incomplete, downloaded: data.downloaded }))
    tracker.scrape()
  })
}

window.interopReady = true
