// example.html's script (a file, not inline, so the page's CSP needs no 'unsafe-inline'): the
// smallest use of each part of the API — seed, download, stream into <video>, show errors.
import { SeedcastClient } from './seedcast.js';

let client;
const log = (text) => { document.getElementById('log').textContent += `${text}\n`; };
const getClient = async () => {
  if (client) return client;
  client = await SeedcastClient.create();
  // Registered early, so the first streamURL() does not wait for it.
  client.serviceWorker().catch((e) => log(`streaming unavailable: ${e.message}`));
  client.addEventListener('error', (e) => log(`client error [${e.detail.code}]: ${e.detail.message}`));
  return client;
};

function follow(torrent) {
  torrent.addEventListener('metadata', async () => {
    log(`metadata: ${torrent.name}, ${torrent.files.length} file(s), pieces of ${torrent.stats().pieceLength} bytes`);
    const video = document.getElementById('video');
    const playable = torrent.files.find((f) => /\.(mp4|m4v|webm|mkv|mp3|m4a|ogg|ogv|opus|wav|flac)$/i.test(f.name));
    if (playable) video.src = await playable.streamURL(); // plays while it downloads
  });
  torrent.addEventListener('peer', (e) => log(`peers: ${e.detail.peers}`));
  torrent.addEventListener('error', (e) => log(`${e.detail.fatal ? 'stopped' : 'error'} [${e.detail.code}]: ${e.detail.message}`));
  torrent.addEventListener('stalled', (e) => log(`stalled: nothing for ${e.detail.seconds} s (${e.detail.peers} peers)`));
  torrent.addEventListener('done', async () => {
    log('done');
    for (const f of torrent.files) {
      const a = Object.assign(document.createElement('a'), { href: await f.url(), download: f.name, textContent: f.path });
      document.body.append(a);
    }
  });
}

document.getElementById('file').addEventListener('change', async (e) => {
  const torrent = await (await getClient()).seed(e.target.files);
  log(`seeding ${torrent.name}: ${torrent.magnetURI}`);
  follow(torrent);
});
document.getElementById('get').addEventListener('click', async () => {
  try {
    follow((await getClient()).add(document.getElementById('magnet').value));
  } catch (e) {
    log(`cannot add: ${e.message}`);
  }
});
