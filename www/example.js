// example.html's script (a file, not inline, so the page's CSP needs no 'unsafe-inline').
import { SeedcastClient } from './seedcast.js';

let client;
const log = (text) => { document.getElementById('log').textContent += `${text}\n`; };
const getClient = async () => (client ??= await SeedcastClient.create());

function follow(torrent) {
  torrent.addEventListener('metadata', () => log(`metadata: ${torrent.name}`));
  torrent.addEventListener('peer', (e) => log(`peers: ${e.detail.peers}`));
  torrent.addEventListener('done', async () => {
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
  follow((await getClient()).add(document.getElementById('magnet').value));
});
