// The API reference (TypeDoc, built by scripts/build-docs.sh from the package's types) is served
// by the app, documents every public method, and works under the app's Content-Security-Policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useSignalAndBrowser, newContext, ROOT } from './harness.mjs';

const env = useSignalAndBrowser();

/** The method names of `export class <name>` in a .d.ts (those TypeDoc must document). */
function methods(file, name) {
  const text = readFileSync(join(ROOT, 'www', file), 'utf8');
  const body = text.slice(text.indexOf(`export class ${name} `));
  const block = body.slice(0, body.indexOf('\n}\n'));
  return [...new Set([...block.matchAll(/^ {2}(?:static )?(\w+)(?:<[^>]*>)?\(/gm)].map((m) => m[1]))];
}

test('the reference is served at /docs/, lists every public method with its comment, and runs under the CSP', { timeout: 60_000 }, async () => {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));

  const index = await page.goto(`${env.signal.base}/docs/`);
  assert.equal(index.status(), 200);
  assert.match(await page.title(), /Seedcast/);
  const front = await page.textContent('body');
  assert.match(front, /client\.serviceWorker\('\/sw\.js'\)/, 'the package README with its examples is the front page');
  assert.match(front, /no-tracker/);

  const pages = { SeedcastClient: 'classes/seedcast.SeedcastClient.html', SeedcastTorrent: 'classes/seedcast.SeedcastTorrent.html' };
  for (const [name, path] of Object.entries(pages)) {
    const names = methods('seedcast.d.ts', name);
    assert.ok(names.includes('add') || names.includes('openStream'), `parsed ${name}'s methods: ${names}`);
    await page.goto(`${env.signal.base}/docs/${path}`);
    for (const method of names) {
      const section = page.locator(`section.tsd-member:has(> h3[id="${method.toLowerCase()}"])`);
      assert.equal(await section.count(), 1, `${name}.${method} is in the reference`);
      const comment = (await section.locator('.tsd-comment').allTextContents()).join(' ').trim();
      assert.ok(comment.length > 10, `${name}.${method} has a doc comment`);
    }
  }
  await page.goto(`${env.signal.base}/docs/classes/player.SeedcastPlayer.html`);
  const player = await page.textContent('body');
  for (const attribute of ['src', 'poster', 'trackers', 'file', 'autoplay', 'muted', 'storage', 'embed.js']) {
    assert.ok(player.includes(`\`${attribute}\``) || player.includes(attribute), `the player's ${attribute} is documented`);
  }
  assert.deepEqual(problems, [], 'no CSP refusals or script errors');
  await context.close();
});
