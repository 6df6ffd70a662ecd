// Runs bittorrent-tracker's WebSocket tracker (the reference implementation, from npm) for side-by-side
// benchmarks: `node bittorrent-tracker-server.mjs PORT`. Prints "listening PORT" once ready.
import Server from 'bittorrent-tracker/server'

const port = Number(process.argv[2] ?? 8001)
const server = new Server({ udp: false, http: false, ws: true, stats: false, trustProxy: false })
server.on('error', err => { console.error(`bittorrent-tracker error: ${err.message}`); process.exit(1) })
server.on('warning', () => {}) // malformed-client warnings are expected under load; keep stderr quiet
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.ws.address().port}`))
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)))
