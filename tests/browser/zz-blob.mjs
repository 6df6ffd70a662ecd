// One-off: what reading a seeded File costs the browser (CPU per MiB of the whole tree), by method.
import { launchBrowserWithPid, startSignal } from './harness.mjs';
import { cpuByProcess } from './proc.mjs';
const signal = await startSignal();
const b = await launchBrowserWithPid();
const page = await b.browser.newPage();
await page.goto(`${signal.base}/example.html`);
await page.evaluate(() => {
  const content = new Uint8Array(64 * 1024 * 1024);
  for (let i = 0; i < content.length; i += 4096) content[i] = i & 255;
  window.file = new File([content], 'x.bin');
});
const roles = (m) => { const o = {}; for (const [, p] of m) o[p.kind] = (o[p.kind] ?? 0) + p.ms; return o; };
for (const [name, fn] of [
  ['slice 1 MiB arrayBuffer', async (chunk) => { const f = window.file; for (let o = 0; o < f.size; o += chunk) await f.slice(o, o + chunk).arrayBuffer(); }],
  ['slice 256 KiB arrayBuffer', null],
  ['slice 16 MiB arrayBuffer', null],
  ['stream()', null], ['slice 1 MiB stream()', null], ['slice 1 MiB FileReader', null],
]) {
  for (let rep = 0; rep < 3; rep++) {
    const chunk = name.includes('256 KiB') ? 262144 : name.includes('16 MiB') ? 16777216 : 1048576;
    const before = cpuByProcess(b.pid);
    const t0 = Date.now();
    await page.evaluate(async ({ chunk, stream, name }) => {
      if (name === 'slice 1 MiB stream()') {
        const f = window.file;
        for (let o = 0; o < f.size; o += chunk) { const r = f.slice(o, o + chunk).stream().getReader(); for (;;) { const { done } = await r.read(); if (done) break; } }
        return;
      }
      if (name === 'slice 1 MiB FileReader') {
        const f = window.file;
        for (let o = 0; o < f.size; o += chunk) await new Promise((res) => { const fr = new FileReader(); fr.onload = res; fr.readAsArrayBuffer(f.slice(o, o + chunk)); });
        return;
      }
      if (stream) { const r = window.file.stream().getReader(); for (;;) { const { done } = await r.read(); if (done) break; } return; }
      const f = window.file; for (let o = 0; o < f.size; o += chunk) await f.slice(o, o + chunk).arrayBuffer();
    }, { chunk, stream: name === 'stream()', name });
    const ms = Date.now() - t0;
    const after = cpuByProcess(b.pid);
    const a = roles(after), bf = roles(before);
    const parts = Object.keys(a).map((k) => `${k} ${((a[k] - (bf[k] ?? 0)) / 64).toFixed(1)}`).join(', ');
    console.log(`${name}: ${ms} ms wall, CPU ms/MiB: ${parts}`);
  }
}
await b.close();
await signal.stop();
