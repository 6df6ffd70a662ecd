// Medians over several bench.sh runs: reads the file RESULTS=FILE collected (per run: seedcast-signal's JSON
// line, then bittorrent-tracker's) and prints, per figure, each server's median [min–max] and the median of
// the per-run ratios (bittorrent-tracker ÷ seedcast-signal) with its range.
import { readFileSync } from 'node:fs'

const lines = readFileSync(process.argv[2], 'utf8').trim().split('\n').map(line => JSON.parse(line))
const runs = []
for (let i = 0; i + 1 < lines.length; i += 2) runs.push([lines[i], lines[i + 1]])
const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const spread = (xs, d) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`
const phase = (r, name) => r.phases.find(p => p.name === name) ?? {}
const figures = [
  ['RSS per peer (bytes)', r => r.rss_bytes_per_peer, 0],
  ['lost messages', r => r.phases.reduce((s, p) => s + p.lost, 0), 0, false],
  ['peers held', r => r.peers_held, 0, false]
]
for (const name of ['steady-low', 'steady-high', 'burst']) {
  if (!runs[0][0].phases.some(p => p.name === name)) continue
  figures.push(
    [`${name}: relayed msg/s`, r => phase(r, name).relayed_per_sec, 0, false],
    [`${name}: CPU ms / 1,000`, r => phase(r, name).cpu_ms_per_1000_relayed, 1],
    [`${name}:   user`, r => phase(r, name).user_cpu_ms_per_1000_relayed, 1],
    [`${name}:   kernel`, r => phase(r, name).system_cpu_ms_per_1000_relayed, 1],
    [`${name}: loadgen cores`, r => phase(r, name).loadgen_cores, 2, false],
    [`${name}: offer p50 ms`, r => phase(r, name).offer_p50_ms, 1, false],
    [`${name}: offer p99 ms`, r => phase(r, name).offer_p99_ms, 1, false]
  )
}
console.log(`${runs.length} runs; median [min–max]`)
console.log(['figure', runs[0][0].label, runs[0][1].label, 'ratio (per run)'].join(' | '))
for (const [label, get, d, ratio = true] of figures) {
  const ours = runs.map(([o]) => get(o))
  const theirs = runs.map(([, t]) => get(t))
  const ratios = runs.map(([o, t]) => get(t) / get(o))
  console.log([label, spread(ours, d), spread(theirs, d), ratio ? `${spread(ratios, 1)}×` : ''].join(' | '))
}
