// embed.html preloads its whole module graph (one round trip instead of one per import level:
// the cold first frame waits on it), so a module added to the graph must be added there too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const WWW = join(dirname(fileURLToPath(import.meta.url)), '../../www');

/** Every module statically or dynamically imported from `entry` (paths relative to www/). */
function graph(entry, seen = new Set()) {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const text = readFileSync(join(WWW, entry), 'utf8');
  for (const [, spec] of text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    graph(relative(WWW, normalize(join(WWW, dirname(entry), spec))), seen);
  }
  return seen;
}

test('embed.html modulepreloads every module its page imports', () => {
  const html = readFileSync(join(WWW, 'embed.html'), 'utf8');
  const preloaded = new Set([...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]));
  const modules = [...graph('embed-page.js')].sort();
  assert.ok(modules.includes('pkg/seedcast.js') && modules.includes('health.js'), `graph: ${modules}`);
  assert.deepEqual(modules.filter((m) => !preloaded.has(m)), [], 'not preloaded');
  assert.deepEqual([...preloaded].filter((m) => !modules.includes(m)), [], 'preloaded but not imported');
});
