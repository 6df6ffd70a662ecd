// health.js: what a page is told when a torrent or client gets nowhere (pure logic, no browser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorrentWatch, TrackerWatch, timeoutOption } from '../../www/health.js';

const stats = (over = {}) => ({ done: false, peers: 0, webSeeds: [], downloaded: 0, verified: 0, hasMetadata: false, ...over });

test('no peers for the timeout is one non-fatal no-peers error, re-armed by a peer', () => {
  const w = new TorrentWatch({ noPeersTimeout: 10, stallTimeout: 1000 }, 0);
  assert.deepEqual(w.observe(stats(), 9_000), []);
  const [signal] = w.observe(stats(), 10_000);
  assert.equal(signal.type, 'error');
  assert.equal(signal.detail.code, 'no-peers');
  assert.equal(signal.detail.fatal, false);
  assert.match(signal.detail.message, /no peer found in 10 s/);
  assert.deepEqual(w.observe(stats(), 30_000), [], 'once per episode');
  assert.deepEqual(w.observe(stats({ peers: 1 }), 31_000), []);
  assert.deepEqual(w.observe(stats(), 40_000), []);
  assert.equal(w.observe(stats(), 41_000)[0]?.detail.code, 'no-peers', 'again after the peer left');
});

test('a ready web seed counts as a source', () => {
  const w = new TorrentWatch({ noPeersTimeout: 1, stallTimeout: 1000 }, 0);
  assert.deepEqual(w.observe(stats({ webSeeds: [{ state: 'ready' }] }), 5_000), []);
  assert.equal(w.observe(stats({ webSeeds: [{ state: 'dropped: 404' }] }), 7_000)[0]?.detail.code, 'no-peers');
});

test('nothing received for the stall timeout is one stalled signal, re-armed by data', () => {
  const w = new TorrentWatch({ noPeersTimeout: 1000, stallTimeout: 5 }, 0);
  assert.deepEqual(w.observe(stats({ peers: 2, downloaded: 0 }), 1_000), []);
  assert.deepEqual(w.observe(stats({ peers: 2, downloaded: 100 }), 1_000), [], 'data at 1 s');
  assert.deepEqual(w.observe(stats({ peers: 2, downloaded: 100 }), 5_000), []);
  const [signal] = w.observe(stats({ peers: 2, downloaded: 100, hasMetadata: true }), 6_000);
  assert.deepEqual(signal, { type: 'stalled', detail: { seconds: 5, peers: 2, hasMetadata: true } });
  assert.deepEqual(w.observe(stats({ peers: 2, downloaded: 100 }), 20_000), []);
  assert.deepEqual(w.observe(stats({ peers: 2, downloaded: 200 }), 21_000), []);
  assert.equal(w.observe(stats({ peers: 2, downloaded: 200 }), 26_000)[0]?.type, 'stalled');
});

test('the stall clock runs from the add, not from the first look', () => {
  const w = new TorrentWatch({ noPeersTimeout: 1000, stallTimeout: 2 }, 0);
  assert.deepEqual(w.observe(stats({ verified: 500 }), 1_000), [], 'a resumed torrent\'s stored bytes are the baseline');
  assert.deepEqual(w.observe(stats({ verified: 500 }), 2_000)[0]?.detail.seconds, 2);
});

test('a finished torrent reports nothing', () => {
  const w = new TorrentWatch({ noPeersTimeout: 1, stallTimeout: 1 }, 0);
  assert.deepEqual(w.observe(stats({ done: true }), 60_000), []);
});

test('no-tracker when every tracker failed, with the hint for the default tracker', () => {
  const w = new TrackerWatch(['ws://a', 'ws://b'], false);
  assert.equal(w.observe({ url: 'ws://a', connected: false }), null, 'b not tried yet');
  const signal = w.observe({ url: 'ws://b', connected: false });
  assert.equal(signal.detail.code, 'no-tracker');
  assert.doesNotMatch(signal.detail.message, /seedcast-signal/);
  assert.equal(w.observe({ url: 'ws://b', connected: false }), null, 'once per outage');
  assert.equal(w.observe({ url: 'ws://a', connected: true }), null);
  assert.equal(w.observe({ url: 'ws://a', connected: false })?.detail.code, 'no-tracker', 're-armed by an open');

  const own = new TrackerWatch(['ws://page.example'], true);
  assert.match(own.observe({ url: 'ws://page.example', connected: false }).detail.message, /pass `trackers`/);
  assert.equal(new TrackerWatch([], false).observe({ url: 'ws://link', connected: false }), null, 'no own trackers: nothing watched');
  const mixed = new TrackerWatch(['ws://own'], false);
  assert.equal(mixed.observe({ url: 'ws://link', connected: true }), null);
  assert.equal(mixed.observe({ url: 'ws://own', connected: false })?.detail.code, 'no-tracker', 'a link\'s tracker does not count');
});

test('timeout options are validated', () => {
  assert.equal(timeoutOption('x', undefined, 30), 30);
  assert.equal(timeoutOption('x', 2.5, 30), 2.5);
  for (const bad of [0, -1, Number.NaN, '5', 1e9]) assert.throws(() => timeoutOption('x', bad, 30), /`x` must be/);
});
