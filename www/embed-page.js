// embed.html's script: one full-size <seedcast-player> for iframes, from
// embed.html#magnet:?xt=...  (or ?src=magnet...), with optional ?poster=, ?trackers=, ?file=,
// ?autoplay, ?muted, ?storage=memory. A file, not inline, so the page's CSP needs no 'unsafe-inline'.
// No parameter reaches the chain or tip jar: the player reads those from this site's
// chain.json (chain.js), so a hostile embed link cannot send tips anywhere else.
//
// embed.html loads this as one bundle with everything it imports (scripts/build-embed.mjs).
// The imports stay dynamic so that, loaded as modules (the bundle's source), this runs as
// soon as it arrives and the wasm compiles while the rest downloads. The service worker
// registers when the player starts, not here: started
// this early it competed with the module graph (cold first frame 691–730 ms late vs 756–842
// early, medians of 5, alternating runs), and it is still ready before the metadata.
const wasm = 'compileStreaming' in WebAssembly
  ? WebAssembly.compileStreaming(fetch(new URL('./pkg/seedcast_bg.wasm', import.meta.url)))
  : undefined;
wasm?.catch(() => {}); // loadSeedcast falls back to its own load, which reports the error
import('./chain.js').then((chain) => chain.siteChain()); // the tip chain: read while the wasm compiles
performance.mark('seedcast:page');
const [{ loadSeedcast }] = await Promise.all([import('./seedcast.js'), import('./player.js')]);
performance.mark('seedcast:modules');
loadSeedcast(wasm);

const params = new URLSearchParams(location.search);
// The fragment is the magnet text itself, not decoded here: the magnet parser decodes its
// values once (a `#` inside arrives as %23, which that parser reads as `#`).
const hash = location.hash.slice(1);
const player = document.createElement('seedcast-player');
player.setAttribute('aria-label', 'Video player');
for (const name of ['poster', 'trackers', 'file', 'autoplay', 'muted', 'storage']) {
  if (params.has(name)) player.setAttribute(name, params.get(name));
}
player.setAttribute('src', hash.startsWith('magnet:') ? hash : params.get('src') ?? '');
document.body.append(player);
player.focus();
