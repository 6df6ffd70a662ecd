// What reading a shared File costs the browser, by read size and API: CPU per MiB of the whole
// Chromium process tree (browser process and renderer) while a page reads a 64 MiB File. It is
// why a seed reads whole 1 MiB extents (crate/src/session/piece_cache/loads.rs): the cost is
// mostly per read, not per byte.
//   SEEDCAST_SIGNAL_BIN=target/release/seedcast-signal node tests/browser/bench-file-read.mjs
import { launchBrowserWithPid, startSignal } from './harness.mjs';
import { cpuByProcess } from './proc.mjs';

const MIB = 64;
const REPS = Number(process.env.REPS) || 3;
const METHODS = [
  ['slice(256 KiB).arrayBuffer()', 256 * 1024, 'arrayBuffer'],
  ['slice(1 MiB).arrayBuffer()', 1024 * 1024, 'arrayBuffer'],
  ['slice(1 MiB).stream()', 1024 * 1024, 'stream'],
  ['FileReader, 1 MiB slices', 1024 * 1024, 'reader'],
  ['slice(16 MiB).arrayBuffer()', 16 * 1024 * 1024, 'arrayBuffer'],
  ['one stream() over the file', MIB * 1024 * 1024, 'stream'],
];

const signal = await startSignal();
const browser = await launchBrowserWithPid();
try {
  const page = await browser.browser.newPage();
  await page.goto(`${signal.base}/example.html`);
  await page.evaluate((mib) => {
    const content = new Uint8Array(mib * 1024 * 1024);
    for (let i = 0; i < content.length; i += 4096) content[i] = i & 255;
    window.file = new File([content], 'shared.bin');
  }, MIB);
  for (const [name, chunk, how] of METHODS) {
    const rows = [];
    for (let rep = 0; rep < REPS; rep++) {
      const before = cpuByProcess(browser.pid);
      const wall = await page.evaluate(async ({ chunk, how }) => {
        const f = window.file;
        const t0 = performance.now();
        for (let at = 0; at < f.size; at += chunk) {
          const part = f.slice(at, at + chunk);
          if (how === 'arrayBuffer') await part.arrayBuffer();
          else if (how === 'reader') await new Promise((res, rej) => { const r = new FileReader(); r.onload = res; r.onerror = rej; r.readAsArrayBuffer(part); });
          else { const reader = part.stream().getReader(); while (!(await reader.read()).done); }
        }
        return performance.now() - t0;
      }, { chunk, how });
      const after = cpuByProcess(browser.pid);
      let cpu = 0;
      for (const [pid, p] of after) cpu += p.ms - (before.get(pid)?.ms ?? 0);
      rows.push(`${(cpu / MIB).toFixed(1)} ms/MiB (${wall.toFixed(0)} ms wall)`);
    }
    console.log(`${name.padEnd(30)} ${rows.join(', ')}`);
  }
} finally {
  await browser.close();
  await signal.stop();
}
