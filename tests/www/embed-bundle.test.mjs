// embed.html loads one bundle of embed-page.js and its imports (scripts/build-embed.mjs): the
// player's cold start. The bundle must be what the sources build now, or the embed page would
// run old code after an edit that skipped the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, BUNDLE, buildEmbed } from '../../scripts/build-embed.mjs';

test('embed.html loads only the bundle (and preloads the wasm)', () => {
  const html = readFileSync(join(ROOT, 'www/embed.html'), 'utf8');
  const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]);
  const preloads = [...html.matchAll(/<link rel="(?:module)?preload" href="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(scripts, ['embed.bundle.js']);
  assert.deepEqual(preloads.sort(), ['embed.bundle.js', 'pkg/seedcast_bg.wasm']);
});

test('www/embed.bundle.js is what the sources build now, with the player, client and wasm glue in it', async () => {
  const built = await buildEmbed();
  assert.ok(built === readFileSync(BUNDLE, 'utf8'), 'www/embed.bundle.js is stale: run node scripts/build-embed.mjs');
  for (const needle of ['SeedcastPlayer = class', 'class SeedcastClient', 'function loadSeedcast', '__wbg_init', 'seedcast.stream-host/1']) {
    assert.ok(built.includes(needle), `the bundle lacks ${needle}`);
  }
  assert.doesNotMatch(built, /\bimport\s*\(|^import /m, 'the bundle still imports modules (one file is the point)');
});
