// Per-process readings from /proc for benchmarks: the renderer processes under a browser.
import { readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ

/** pid -> { ppid, cpuTicks, rssKiB, renderer } for every process. */
function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      table.set(Number(name), {
        ppid: Number(fields[1]),
        cpuTicks: Number(fields[11]) + Number(fields[12]),
        rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
        renderer: cmdline.includes('--type=renderer'),
        kind: /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1] ?? /--type=([\w-]+)/.exec(cmdline)?.[1] ?? 'browser',
      });
    } catch { /* exited meanwhile */ }
  }
  return table;
}

/** Every process in the tree under `rootPid` (itself included): [{ pid, ppid, cpuTicks, rssKiB, renderer, kind }]
 *  (`kind`: Chromium's process type, the utility's service name, or `browser`). */
export function tree(rootPid) {
  const table = processTable();
  const members = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of table) if (!members.has(pid) && members.has(p.ppid)) { members.add(pid); grew = true; }
  }
  return [...members].map((pid) => ({ pid, ...table.get(pid) })).filter((p) => p.ppid !== undefined);
}

/** The renderer processes in the tree under `rootPid`: [{ pid, rssKiB, … }]. */
export const renderers = (rootPid) => tree(rootPid).filter((p) => p.renderer);

/** CPU ms per process so far under `rootPid`: Map pid -> { ms, kind, renderer } (diff two for a breakdown). */
export function cpuByProcess(rootPid) {
  return new Map(tree(rootPid).map((p) => [p.pid, { ms: p.cpuTicks * (1000 / CLK_TCK), kind: p.kind, renderer: p.renderer }]));
}

/** CPU ms used between two `cpuByProcess` readings, summed by role, largest first: renderers get
 *  `rendererRole(pid)`, other processes their kind (browser, network service, GPU...). */
export function cpuByRole(before, after, rendererRole) {
  const out = {};
  for (const [pid, p] of after) {
    const role = p.renderer ? rendererRole(pid) : p.kind;
    out[role] = (out[role] ?? 0) + p.ms - (before.get(pid)?.ms ?? 0);
  }
  return Object.entries(out).sort((a, b) => b[1] - a[1]);
}

/** CPU time (user + system) used so far by the whole process tree under `rootPid`, in milliseconds. */
export const cpuMs = (rootPid) => tree(rootPid).reduce((sum, p) => sum + p.cpuTicks, 0) * (1000 / CLK_TCK);

/** Diagnostics: Chromium's own accounting of a renderer's memory (a memory-infra dump taken
 *  through `page`'s DevTools session), as `[name, MiB]` rows for allocators three levels
 *  deep, largest first. `pids`: the renderer processes to report. */
export async function memoryBreakdown(page, pids) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', ({ value }) => events.push(...value));
  const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
  await cdp.send('Tracing.start', {
    traceConfig: { includedCategories: ['disabled-by-default-memory-infra'], memoryDumpConfig: { triggers: [] } },
    transferMode: 'ReportEvents',
  });
  await cdp.send('Tracing.requestMemoryDump', { deterministic: true, levelOfDetail: 'detailed' }).catch(() => {});
  await cdp.send('Tracing.end');
  await complete;
  await cdp.detach();
  const rows = new Map();
  for (const e of events) {
    if (e.ph !== 'v' || !pids.includes(e.pid)) continue;
    for (const [name, dump] of Object.entries(e.args?.dumps?.allocators ?? {})) {
      if (name.split('/').length > 3) continue;
      const size = dump.attrs?.effective_size ?? dump.attrs?.size;
      if (!size) continue;
      const mib = parseInt(size.value, 16) / 2 ** 20;
      rows.set(`${e.pid} ${name}`, Math.max(rows.get(`${e.pid} ${name}`) ?? 0, mib));
    }
  }
  return [...rows].filter(([, mib]) => mib >= 1).sort((a, b) => b[1] - a[1]);
}

/** Diagnostics for the benches' PROFILE=1: samples `page`'s main thread with V8's CPU
 *  profiler (wasm functions by name) until the returned function is called, which resolves
 *  with the `top` functions by self time, one indented line each. */
export async function sampleMainThread(context, page, { intervalUs = 250, top = 25 } = {}) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: intervalUs });
  await cdp.send('Profiler.start');
  return async () => {
    const { profile } = await cdp.send('Profiler.stop');
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const { callFrame } = byId.get(id);
      const name = `${callFrame.functionName || '(anonymous)'} ${callFrame.url.split('/').pop()}`;
      const dt = profile.timeDeltas[i] ?? 0;
      self.set(name, (self.get(name) ?? 0) + dt);
      total += dt;
    });
    return [...self].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, us]) => `      ${(us / 1000).toFixed(0).padStart(6)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${name}`).join('\n');
  };
}
