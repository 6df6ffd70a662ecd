// Prints the side-by-side table from signal-loadgen's JSON results (one per line): ours first, then the reference.
import { readFileSync } from 'node:fs'

const [ours, theirs] = readFileSync(process.argv[2], 'utf8').trim().split('\n').map(line => JSON.parse(line))
const phase = (r, name) => r.phases.find(p => p.name === name) ?? {}
const lost = r => r.phases.reduce((sum, p) => sum + p.lost, 0)
const fixed = (n, digits = 1) => (n ?? NaN).toFixed(digits)
const rows = [
  ['peers held (of wanted)', r => `${r.peers_held} / ${r.peers_wanted}`],
  ['messages lost', r => String(lost(r))],
  ['server RSS per peer (bytes)', r => String(r.rss_bytes_per_peer), r => r.rss_bytes_per_peer],
  ...['steady-low', 'steady-high', 'burst'].filter(name => ours.phases.some(p => p.name === name)).flatMap(name => [
    [`${name}: relayed msg/s`, r => fixed(phase(r, name).relayed_per_sec, 0)],
    [`${name}: server CPU ms per 1,000 relayed`, r => fixed(phase(r, name).cpu_ms_per_1000_relayed), r => phase(r, name).cpu_ms_per_1000_relayed],
    [`${name}:   of which user space`, r => fixed(phase(r, name).user_cpu_ms_per_1000_relayed), r => phase(r, name).user_cpu_ms_per_1000_relayed],
    [`${name}:   of which kernel`, r => fixed(phase(r, name).system_cpu_ms_per_1000_relayed), r => phase(r, name).system_cpu_ms_per_1000_relayed],
    [`${name}: cores busy, server / loadgen`, r => `${fixed(phase(r, name).server_cores, 2)} / ${fixed(phase(r, name).loadgen_cores, 2)}`],
    [`${name}: offer relay p50 / p99 (ms)`, r => `${fixed(phase(r, name).offer_p50_ms)} / ${fixed(phase(r, name).offer_p99_ms)}`],
    [`${name}: answer relay p50 / p99 (ms)`, r => `${fixed(phase(r, name).answer_p50_ms)} / ${fixed(phase(r, name).answer_p99_ms)}`]
  ])
]
const header = ['', ours.label, theirs.label, `${theirs.label} ÷ ${ours.label}`]
const table = [header, ...rows.map(([name, show, value]) => [
  name, show(ours), show(theirs), value ? `${fixed(value(theirs) / value(ours))}×` : ''
])]
const widths = header.map((_, i) => Math.max(...table.map(row => row[i].length)))
for (const row of table) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '))
