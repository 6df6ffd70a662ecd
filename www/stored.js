// "Stored in this browser": what this site keeps in OPFS/IndexedDB, with a way to open
// (resume) or delete each torrent. Names are set with textContent only.
const $ = (id) => document.getElementById(id);

function formatBytes(n) {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Fills the #stored section from `client.stored()` and keeps it current; returns a
 *  function that refreshes it now. */
export function showStored(client) {
  const list = $('stored');
  const render = async () => {
    let stored;
    try {
      stored = await client.stored();
    } catch (e) {
      $('stored-empty').textContent = `Browser storage cannot be read: ${e.message}`;
      return;
    }
    $('stored-empty').hidden = stored.length > 0;
    $('clear-stored').hidden = stored.length === 0;
    list.replaceChildren(...stored.map((t) => {
      const item = document.createElement('li');
      const open = document.createElement('a');
      open.href = `${location.pathname}#magnet:?xt=urn:btih:${t.infoHash}`;
      open.textContent = t.name ?? t.infoHash;
      open.addEventListener('click', () => setTimeout(() => location.reload(), 0));
      const size = t.length ? `${formatBytes(t.storedBytes)} of ${formatBytes(t.length)}` : formatBytes(t.storedBytes);
      const del = document.createElement('button');
      del.type = 'button';
      del.textContent = 'Delete';
      del.setAttribute('aria-label', `Delete the stored copy of ${t.name ?? t.infoHash}`);
      del.addEventListener('click', async () => {
        await client.clearStored(t.infoHash).catch((e) => alert(e.message));
        render();
      });
      item.append(open, ` · ${size} `, del);
      return item;
    }));
  };
  $('clear-stored').addEventListener('click', async () => {
    await client.clearStored().catch((e) => alert(e.message));
    render();
  });
  render();
  setInterval(render, 5000);
  return render;
}
