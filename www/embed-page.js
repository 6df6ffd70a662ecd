// embed.html's script: one full-size <seedcast-player> for iframes, from
// embed.html#magnet:?xt=...  (or ?src=magnet...), with optional ?poster=, ?trackers=, ?file=,
// ?autoplay, ?muted, ?storage=memory. A file, not inline, so the page's CSP needs no 'unsafe-inline'.
// No parameter reaches the chain or tip jar: the player reads those from this site's
// chain.json (chain.js), so a hostile embed link cannot send tips anywhere else.
import './player.js';

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
