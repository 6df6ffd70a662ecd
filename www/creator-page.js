// A creator's page, /@<address> (creator.html): their channel of works, each played peer to
// peer in <seedcast-player> and tipped in BTT from the viewer's wallet, with the tips each work
// received read from the chain.
//
// The server is not trusted: the channel is verified in wasm (client.channel) and nothing from
// one that does not verify is shown. Once a work's torrent metadata arrives, its own creator
// record must name the channel's address, or that work gets a warning and no Tip button.
// Everything from the channel, torrents and chain logs is set as text, never parsed as HTML;
// posters only as data:image URIs.
import { SeedcastClient } from './seedcast.js';
import { withSiteChain } from './chain.js';
import { openTipDialog, explorerLink, formatBTT, shortAddress, adoptTipDialogStyles } from './creator-ui.js';
import './player.js';

adoptTipDialogStyles();

/** A poster shown as an image: the channel format's types, base64. */
const POSTER = /^data:image\/(jpeg|png|webp);base64,[A-Za-z0-9+/]+={0,2}$/;
/** Longest poster URI shown (the channel format's bound, crate/src/channel MAX_POSTER_BYTES). */
const MAX_POSTER_CHARS = 32 * 1024;
/** Reads of the tip logs after a tip until it shows up (an RPC node may lag the wallet's). */
const MAX_TIP_ROUNDS = 8;
/** Reads of older blocks while the count is incomplete, per refresh (each reads a bounded range). */
const MAX_BACKFILL_ROUNDS = 20;

const $ = (id) => document.getElementById(id);
const address = /^\/@(0x[0-9a-fA-F]{40})$/.exec(location.pathname)?.[1];
let client;
let channel; // the verified ChannelView
const cards = new Map(); // infoHash -> <li>
const torrents = new Map(); // infoHash -> SeedcastTorrent

function setState(text, kind = '') {
  const state = $('channel-state');
  state.replaceChildren(text);
  state.className = `state ${kind}`;
  return state;
}

async function start() {
  if (!address) {
    $('channel-name').textContent = 'No such creator page';
    setState('This link does not name a creator address (0x and 40 hex digits).', 'bad');
    return;
  }
  try {
    client = await withSiteChain((chain) => SeedcastClient.create({ chain }));
  } catch (e) {
    setState(`Seedcast could not start: ${e.message}`, 'bad');
    return;
  }
  await loadChannel();
}

async function loadChannel() {
  setState('Loading the channel…');
  let view;
  try {
    view = await client.channel(address);
  } catch (e) {
    $('channel-name').textContent = 'Creator';
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.textContent = 'Try again';
    retry.addEventListener('click', () => loadChannel());
    setState(`The channel server could not be reached (${e.message}). `, 'bad').append(retry);
    return;
  }
  if (view === null) {
    $('channel-name').textContent = 'No channel here';
    $('channel-address').textContent = address;
    setState('This address has not published a channel on this site.', 'bad');
    return;
  }
  if (!view.verified) {
    // Only the address asked for (from the link) and the reason: nothing from the manifest.
    $('channel-name').textContent = 'This channel does not verify';
    $('channel-address').textContent = `Requested address: ${address}`;
    setState(`⚠ The channel this server sent does not verify (${view.reason ?? 'unknown reason'}). It may have been altered, so nothing from it is shown.`, 'bad unverified');
    $('works-section').hidden = true;
    return;
  }
  channel = view;
  showChannel();
}

function showChannel() {
  const chain = client.chain;
  const name = channel.name || 'Unnamed creator';
  $('channel-name').textContent = name;
  document.title = `${name} — Seedcast`;
  const link = explorerLink(chain, 'address', channel.address, channel.address);
  link.classList.add('creator-address');
  $('channel-address').replaceChildren('✓ Verified address ', link, ` · tips in BTT on ${chain.name}`);
  setState('');
  $('works-section').hidden = false;
  $('works-empty').hidden = channel.works.length > 0;
  $('works').replaceChildren(...channel.works.map(workCard));
  if (channel.works.length) refreshTips();
}

function workCard(work) {
  const card = $('work-template').content.firstElementChild.cloneNode(true);
  card.dataset.infoHash = work.infoHash;
  const q = (selector) => card.querySelector(selector);
  if (typeof work.poster === 'string' && work.poster.length <= MAX_POSTER_CHARS && POSTER.test(work.poster)) {
    const img = document.createElement('img');
    img.src = work.poster;
    img.alt = '';
    q('.poster').append(img);
  } else {
    q('.poster').classList.add('none');
  }
  q('.work-title').textContent = work.title || 'Untitled';
  const date = new Date(work.published * 1000);
  if (Number.isFinite(date.getTime())) {
    q('.work-date').dateTime = date.toISOString();
    q('.work-date').textContent = date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  }
  q('.tip-button').setAttribute('aria-label', `Tip for ${work.title || 'this work'}`);
  q('.work-play').addEventListener('click', () => play(work));
  q('.tip-button').addEventListener('click', (e) => tip(work, e.currentTarget));
  cards.set(work.infoHash, card);
  return card;
}

/** The work's torrent in this page (added once: it keeps seeding after it played). */
function torrentFor(work) {
  let torrent = torrents.get(work.infoHash);
  if (torrent) return torrent;
  torrent = client.add(work.magnet);
  if (torrent.infoHash !== work.infoHash) {
    torrent.remove();
    throw new Error('its magnet link names another torrent');
  }
  torrents.set(work.infoHash, torrent);
  torrent.addEventListener('metadata', () => checkCreator(work, torrent));
  torrent.addEventListener('error', (e) => note(work, e.detail.fatal ? `This work stopped: ${e.detail.message}` : e.detail.message, e.detail.fatal));
  torrent.addEventListener('removed', () => torrents.delete(work.infoHash));
  if (torrent.stats().hasMetadata) checkCreator(work, torrent);
  return torrent;
}

function note(work, text, bad = false) {
  const p = cards.get(work.infoHash)?.querySelector('.work-note');
  if (!p) return;
  p.textContent = text;
  p.classList.toggle('warning', bad);
}

/** Whether the work's torrent may be tipped: it has no creator record (the tip then goes to
 *  this verified channel's creator), or its record verifies and names the channel's address.
 *  Otherwise the card says why and loses its Tip button. */
function checkCreator(work, torrent) {
  const creator = torrent.creator;
  let problem;
  // No record: the tip goes to this verified channel's creator (the one listing the work).
  if (!creator) return true;
  if (!creator.verified) problem = `⚠ This work’s creator record does not verify${creator.reason ? ` (${creator.reason})` : ''} — tips are disabled for it.`;
  else if (creator.address?.toLowerCase() !== channel.address.toLowerCase()) problem = `⚠ This work’s torrent names another creator (${creator.address}) — tips are disabled for it.`;
  if (!problem) return true;
  const card = cards.get(work.infoHash);
  const button = card?.querySelector('.tip-button');
  if (button) {
    const hadFocus = document.activeElement === button;
    button.remove();
    if (hadFocus) card.querySelector('.work-play').focus();
  }
  note(work, problem, true);
  return false;
}

function play(work) {
  let torrent;
  try {
    torrent = torrentFor(work);
  } catch (e) {
    note(work, `Cannot play this work: ${e.message}`, true);
    return;
  }
  for (const card of cards.values()) card.removeAttribute('aria-current');
  cards.get(work.infoHash).setAttribute('aria-current', 'true');
  $('now-title').textContent = work.title || 'Untitled';
  $('now-playing').hidden = false;
  let player = $('player-slot').querySelector('seedcast-player');
  if (player?.dataset.infoHash !== work.infoHash) {
    player = document.createElement('seedcast-player');
    player.dataset.infoHash = work.infoHash;
    player.setAttribute('autoplay', '');
    player.setAttribute('aria-label', `Player: ${work.title || 'Untitled'}`);
    const poster = cards.get(work.infoHash).querySelector('.poster img');
    if (poster) player.setAttribute('poster', poster.src);
    // Handed in (not a src): the page keeps the torrent, which seeds on after it played.
    player.torrent = torrent;
    $('player-slot').replaceChildren(player);
  }
  $('now-playing').scrollIntoView({ block: 'nearest' });
  // Keyboard users land on the player: Space plays and pauses, arrows seek.
  player.focus();
}

async function tip(work, button) {
  if (button.getAttribute('aria-busy') === 'true') return;
  let torrent;
  try {
    torrent = torrentFor(work);
  } catch (e) {
    note(work, `Cannot tip this work: ${e.message}`, true);
    return;
  }
  if (!torrent.stats().hasMetadata) {
    // tip() checks the torrent's own creator record, which comes with the metadata.
    button.setAttribute('aria-busy', 'true');
    note(work, 'Getting this work’s details from peers before tipping…');
    const waiting = new AbortController(); // removes both listeners once one has fired
    try {
      await new Promise((resolve, reject) => {
        torrent.addEventListener('metadata', resolve, { signal: waiting.signal });
        torrent.addEventListener('error', (e) => { if (e.detail.fatal) reject(new Error(e.detail.message)); }, { signal: waiting.signal });
      });
    } catch {
      return; // the error listener of torrentFor said why
    } finally {
      waiting.abort();
      button.removeAttribute('aria-busy');
    }
    note(work, '');
  }
  if (!checkCreator(work, torrent)) return;
  openTipDialog(cards.get(work.infoHash), torrent, client, button, {
    channel, onSent: (result) => refreshTips(result.txHash),
  });
}

let tipsQueue = Promise.resolve();
/** Reads the tips per work from the chain again (one read at a time); after a tip, until
 *  `txHash` shows up. */
function refreshTips(txHash) {
  tipsQueue = tipsQueue.then(() => readTips(txHash?.toLowerCase()));
  return tipsQueue;
}

async function readTips(txHash) {
  for (let round = 0; round < MAX_TIP_ROUNDS + MAX_BACKFILL_ROUNDS; round++) {
    let tips;
    try {
      tips = await client.tips(channel.address);
    } catch (e) {
      $('tips-state').textContent = `Tips unavailable: ${e.message}. The videos still play.`;
      $('tips-state').classList.add('bad');
      for (const card of cards.values()) card.querySelector('.tips-summary').textContent = 'Tips unavailable';
      return;
    }
    $('tips-state').classList.remove('bad');
    showTips(tips);
    const seen = !txHash || Object.values(tips.works).some((w) => w.recent.some((t) => t.txHash.toLowerCase() === txHash));
    $('tips-state').textContent = tips.complete ? '' : 'Counting older tips…';
    if (seen && tips.complete) return;
    if (!seen && round >= MAX_TIP_ROUNDS) return;
    // The chain's node may not have the new block yet: ask again shortly.
    if (!seen) await new Promise((r) => setTimeout(r, 1000 * (round + 1)));
  }
}

function showTips(tips) {
  for (const [infoHash, card] of cards) {
    const work = tips.works[infoHash];
    const count = work?.count ?? 0;
    card.querySelector('.tips-summary').textContent = count
      ? `${count} tip${count === 1 ? '' : 's'} · ${formatBTT(work.totalWei)} BTT`
      : 'No tips yet';
    card.querySelector('.tip-messages').replaceChildren(...(work?.recent ?? []).map((t) => {
      const li = document.createElement('li');
      li.append(`${formatBTT(t.amountWei)} BTT from `);
      const from = document.createElement('span');
      from.className = 'tip-from';
      from.title = t.from;
      from.textContent = shortAddress(t.from);
      li.append(from);
      if (t.message) {
        const message = document.createElement('q');
        message.className = 'tip-text';
        message.textContent = t.message;
        li.append(': ', message);
      }
      return li;
    }));
  }
}

start();
