// Times SHA-1 piece verification inside WebAssembly (Node's V8, the engine Chromium uses).
// Usage: node scripts/bench-wasm-sha1.mjs path/to/seedcast_wasm_bench.wasm
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
const { bench_sha1 } = instance.exports;
const len = 4 * 1024 * 1024;
bench_sha1(len, 2); // warm up (tier-up to optimised code)
let rounds = 0;
const start = process.cpuUsage();
const t0 = performance.now();
while (performance.now() - t0 < 1000) {
  bench_sha1(len, 1);
  rounds++;
}
const cpu = process.cpuUsage(start);
const secs = (cpu.user + cpu.system) / 1e6;
console.log(`sha1 verify wasm: ${((rounds * len) / secs / 1e6).toFixed(0)} MB/s`);
