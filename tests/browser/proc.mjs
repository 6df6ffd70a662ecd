// Per-process readings from /proc for benchmarks: the renderer processes under a browser.
import { readFileSync, readdirSync } from 'node:fs';

/** pid -> { ppid, rssKiB, renderer } for every process. */
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
        rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
        renderer: cmdline.includes('--type=renderer'),
      });
    } catch { /* exited meanwhile */ }
  }
  return table;
}

/** The renderer processes in the tree under `rootPid`: [{ pid, rssKiB }]. */
export function renderers(rootPid) {
  const table = processTable();
  const members = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of table) if (!members.has(pid) && members.has(p.ppid)) { members.add(pid); grew = true; }
  }
  return [...members].map((pid) => ({ pid, ...table.get(pid) })).filter((p) => p.renderer);
}
