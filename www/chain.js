// The chain tips go to, as the site's operator chose it (`seedcast-signal --chain`, served as
// chain.json next to this module). Never from a link or a page's URL: a hostile link must not
// be able to send tips through another network or contract.

/** Largest chain.json read (the server refuses a bigger chain file at startup). */
const MAX_CHAIN_JSON_BYTES = 4096;

let loading;

/** The site's chain for `SeedcastClient.create({ chain })`: the object from chain.json, or the
 *  default preset 'bttc' (BitTorrent Chain mainnet) when it cannot be read (logged). Fetched once. */
export function siteChain() {
  loading ??= (async () => {
    const url = new URL(/* @vite-ignore */ 'chain.json', import.meta.url);
    try {
      const response = await fetch(url, { cache: 'no-store', credentials: 'omit' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      if (text.length > MAX_CHAIN_JSON_BYTES) throw new Error(`larger than ${MAX_CHAIN_JSON_BYTES} bytes`);
      const chain = JSON.parse(text);
      if (typeof chain !== 'object' || chain === null || Array.isArray(chain)) throw new Error('not a JSON object');
      return chain;
    } catch (e) {
      console.warn(`seedcast: cannot read ${url.href} (${e.message}); tips use the default chain, BitTorrent Chain mainnet`);
      return 'bttc';
    }
  })();
  return loading;
}

/** Calls `make(chain)` with the site's chain; if the client refuses that chain (the operator's
 *  file and this client disagree), says so and falls back to the default preset. */
export async function withSiteChain(make) {
  const chain = await siteChain();
  try {
    return await make(chain);
  } catch (e) {
    if (chain === 'bttc') throw e;
    console.error(`seedcast: the site's chain.json was refused (${e.message}); tips use the default chain, BitTorrent Chain mainnet`);
    return make('bttc');
  }
}
