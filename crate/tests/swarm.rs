//! Whole-swarm behaviour in the deterministic simulator (see `sim/mod.rs`).

mod sim;

use std::time::Duration;

use seedcast::engine::Event;
use seedcast::wire::{BLOCK_SIZE, BlockRef, Message};
use sim::{CorruptingStorage, LinkSpec, Sim};

const MIB: usize = 1024 * 1024;
const MIB_S: u64 = 1024 * 1024;

fn link(ms: u64, loss: f64) -> LinkSpec {
    LinkSpec {
        latency: Duration::from_millis(ms),
        loss,
        ..LinkSpec::default()
    }
}

#[test]
fn twenty_leechers_finish_and_trade_among_themselves() {
    // 64 MiB, automatic piece length; the seeder's uplink is no faster than a leecher's, so
    // the swarm can only finish quickly if leechers upload to each other.
    let mut sim = Sim::new(64 * MIB, None, 1);
    let seeder = sim.add_seeder(4 * MIB_S);
    let leechers: Vec<_> = (0..20).map(|_| sim.add_leecher(4 * MIB_S)).collect();
    for (i, &l) in leechers.iter().enumerate() {
        sim.connect(seeder, l, link(20 + i as u64 * 3, 0.01));
        // Each leecher knows about eight others, as a tracker would hand out.
        for k in 1..=4 {
            let other = leechers[(i + k * 3) % leechers.len()];
            if other > l {
                sim.connect(l, other, link(10 + (i as u64 * 7 + k as u64) % 40, 0.01));
            }
        }
    }
    assert!(
        sim.run_to_completion(Duration::from_secs(600)),
        "swarm did not finish in 600 virtual seconds"
    );

    for &l in &leechers {
        assert!(sim.has_content(l), "leecher {l} has wrong or missing data");
    }
    let total: u64 = leechers.len() as u64 * 64 * MIB as u64;
    let from_seeder = sim.uploaded(seeder);
    let from_leechers: u64 = leechers.iter().map(|&l| sim.uploaded(l)).sum();
    assert!(
        from_seeder + from_leechers >= total,
        "every byte came from somewhere"
    );
    assert!(
        from_leechers > total / 2,
        "leechers should carry most of the load: seeder {from_seeder}, leechers {from_leechers} of {total}"
    );
    // Everyone contributed, not just a couple of lucky peers.
    let idle = leechers
        .iter()
        .filter(|&&l| sim.uploaded(l) < 4 * MIB as u64)
        .count();
    assert!(idle <= 2, "{idle} leechers uploaded less than 4 MiB");
    // Finishing well before the seeder could have served everyone alone (320 s at 4 MiB/s).
    let last = leechers
        .iter()
        .filter_map(|&l| sim.nodes[l].completed_at)
        .max()
        .unwrap();
    assert!(last < Duration::from_secs(160), "swarm took {last:?}");
}

#[test]
fn magnet_leecher_gets_metadata_then_data() {
    let mut sim = Sim::new(3 * MIB + 12_345, Some(64 * 1024), 2);
    let seeder = sim.add_seeder(8 * MIB_S);
    let magnet = sim.add_magnet_leecher(8 * MIB_S);
    assert!(sim.nodes[magnet].torrent.info().is_none());
    sim.connect(seeder, magnet, link(30, 0.0));
    assert!(sim.run_to_completion(Duration::from_secs(60)));
    let node = &sim.nodes[magnet];
    let meta_at = node.metadata_at.expect("metadata event");
    assert!(meta_at < node.completed_at.unwrap());
    assert_eq!(
        node.torrent.info_bytes(),
        Some(&sim.metainfo.info_bytes[..])
    );
    assert!(
        sim.has_content(magnet),
        "node {} has wrong or missing data",
        magnet
    );
}

#[test]
fn magnet_metadata_spanning_many_pieces_from_several_peers() {
    // 1,280 pieces of 16 KiB make a 25 KiB info dict: two metadata pieces, from three seeders.
    let mut sim = Sim::new(20 * MIB, Some(16 * 1024), 3);
    let seeders: Vec<_> = (0..3).map(|_| sim.add_seeder(2 * MIB_S)).collect();
    let magnet = sim.add_magnet_leecher(2 * MIB_S);
    for s in seeders {
        sim.connect(s, magnet, link(15, 0.0));
    }
    assert!(sim.metainfo.info_bytes.len() > 16 * 1024);
    assert!(sim.run_to_completion(Duration::from_secs(60)));
    assert!(
        sim.has_content(magnet),
        "node {} has wrong or missing data",
        magnet
    );
}

#[test]
fn peer_serving_corrupt_blocks_is_banned_and_download_completes() {
    let mut sim = Sim::new(8 * MIB, Some(256 * 1024), 4);
    let honest = sim.add_seeder(2 * MIB_S);
    let liar = sim.add_seeder_with(8 * MIB_S, |m| Box::new(CorruptingStorage(m)));
    let leecher = sim.add_leecher(2 * MIB_S);
    sim.connect(honest, leecher, link(20, 0.0));
    sim.connect(liar, leecher, link(20, 0.0));
    assert!(
        sim.run_to_completion(Duration::from_secs(120)) || sim.nodes[leecher].torrent.is_complete()
    );
    assert!(
        sim.has_content(leecher),
        "node {} has wrong or missing data",
        leecher
    );
    let bans = sim.banned_by(leecher);
    assert_eq!(bans.len(), 1, "exactly the liar is banned: {bans:?}");
    let failed = sim.nodes[leecher]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::PieceFailed { .. }))
        .count();
    // The liar is four times faster than the honest seeder, so it wins many pieces; mixed
    // pieces are settled by block evidence once a good copy arrives. Measured: 5 failures.
    assert!(
        (1..=6).contains(&failed),
        "the liar is caught after a few bad pieces, not dozens: {failed}"
    );
    // The honest seeder was never blamed.
    let honest_id = sim.nodes[honest].torrent.peer_keys().next();
    assert!(honest_id.is_some(), "honest seeder still connected");
}

#[test]
fn liar_mixed_into_pieces_with_honest_peers_is_still_identified() {
    // Many leechers share pieces with the liar, so failed pieces have several contributors;
    // the block-level evidence must single out the liar and nobody else.
    let mut sim = Sim::new(4 * MIB, Some(1024 * 1024), 5);
    let honest = sim.add_seeder(4 * MIB_S);
    let liar = sim.add_seeder_with(4 * MIB_S, |m| Box::new(CorruptingStorage(m)));
    let leecher = sim.add_leecher(4 * MIB_S);
    sim.connect(honest, leecher, link(20, 0.0));
    sim.connect(liar, leecher, link(20, 0.0));
    sim.run_to_completion(Duration::from_secs(120));
    assert!(
        sim.has_content(leecher),
        "node {} has wrong or missing data",
        leecher
    );
    let bans: Vec<_> = sim.nodes[leecher]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerBanned { peer_id, .. } => *peer_id,
            _ => None,
        })
        .collect();
    let liar_id = seedcast::engine::Config::peer_id_from_seed(liar as u64 + 1);
    assert_eq!(bans, vec![liar_id]);
}

#[test]
fn seeder_leaving_mid_transfer_does_not_stop_the_download() {
    let mut sim = Sim::new(16 * MIB, None, 6);
    let s1 = sim.add_seeder(2 * MIB_S);
    let s2 = sim.add_seeder(2 * MIB_S);
    let l1 = sim.add_leecher(MIB_S);
    let l2 = sim.add_leecher(MIB_S);
    for l in [l1, l2] {
        sim.connect(s1, l, link(25, 0.02));
        sim.connect(s2, l, link(40, 0.02));
    }
    sim.connect(l1, l2, link(10, 0.0));
    sim.kill_at(s1, Duration::from_secs(2));
    // A leecher also drops out and never comes back.
    let l3 = sim.add_leecher(MIB_S);
    sim.connect(s2, l3, link(25, 0.0));
    sim.connect(l1, l3, link(25, 0.0));
    sim.kill_at(l3, Duration::from_secs(3));
    assert!(sim.run_to_completion(Duration::from_secs(300)));
    // s1 really left at 2 s: it handed out no more than 2 s at its uplink plus what sat in
    // its two send buffers, and everything else both leechers needed came from the peers
    // that stayed.
    let from_s1 = sim.uploaded(s1);
    let most = 2 * 2 * MIB_S + 2 * sim::HIGH_WATER as u64;
    assert!(
        from_s1 <= most,
        "s1 uploaded {from_s1} after leaving at 2 s"
    );
    let needed = 2 * 16 * MIB as u64;
    let from_rest: u64 = [s2, l1, l2, l3].iter().map(|&n| sim.uploaded(n)).sum();
    assert!(
        from_rest >= needed - from_s1,
        "the rest came from the peers that stayed: {from_rest} of {}",
        needed - from_s1
    );
    for l in [l1, l2] {
        assert!(sim.has_content(l), "node {} has wrong or missing data", l);
        let t = sim.nodes[l].completed_at.unwrap();
        assert!(
            t > Duration::from_secs(3),
            "the transfer really outlived the departures"
        );
    }
}

#[test]
fn streaming_reader_at_half_gets_its_window_first() {
    let mut sim = Sim::new(32 * MIB, Some(256 * 1024), 7);
    let seeder = sim.add_seeder(4 * MIB_S);
    let viewer = sim.add_leecher(4 * MIB_S);
    sim.connect(seeder, viewer, link(30, 0.0));
    let half = 16 * MIB as u64;
    sim.set_reader_at(viewer, 1, half, Duration::ZERO);
    assert!(sim.run_to_completion(Duration::from_secs(120)));
    let order = sim.verified_order(viewer);
    let first = (half / (256 * 1024)) as u32;
    let window: Vec<u32> = (first..first + 16).collect(); // 4 MiB window = 16 pieces
    let positions: Vec<usize> = window
        .iter()
        .map(|w| order.iter().position(|x| x == w).unwrap())
        .collect();
    assert!(
        positions.iter().all(|&p| p < 20),
        "window pieces should be among the first verified: positions {positions:?} of {}",
        order.len()
    );
    // The piece right at the play position comes first of all.
    assert_eq!(order[0], first);
}

#[test]
fn seeking_moves_the_download_to_the_new_position_at_once() {
    let mut sim = Sim::new(32 * MIB, Some(256 * 1024), 10);
    let seeder = sim.add_seeder(4 * MIB_S);
    let viewer = sim.add_leecher(4 * MIB_S);
    sim.connect(seeder, viewer, link(30, 0.0));
    sim.set_reader_at(viewer, 1, 0, Duration::ZERO);
    // Play from the start for a while, then seek to 75%.
    let seek_at = Duration::from_secs(3);
    let target = 24 * MIB as u64;
    sim.set_reader_at(viewer, 1, target, seek_at);
    assert!(sim.run_to_completion(Duration::from_secs(120)));
    let after_seek: Vec<u32> = sim.nodes[viewer]
        .events
        .iter()
        .filter(|(t, _)| *t > seek_at)
        .filter_map(|(_, e)| match e {
            Event::PieceVerified { index } => Some(*index),
            _ => None,
        })
        .collect();
    let first = (target / (256 * 1024)) as u32;
    let before: Vec<u32> = sim.nodes[viewer]
        .events
        .iter()
        .filter(|(t, _)| *t <= seek_at)
        .filter_map(|(_, e)| match e {
            Event::PieceVerified { index } => Some(*index),
            _ => None,
        })
        .collect();
    let window: Vec<u32> = (first..first + 16)
        .filter(|p| !before.contains(p))
        .collect();
    assert!(
        window.len() >= 8,
        "most of the target window was still missing at the seek"
    );
    // Only pieces already arriving at the seek may finish before the new window; with the
    // stale requests cancelled that is at most a couple of pieces.
    let head = &after_seek[..window.len() + 2];
    assert!(
        window.iter().all(|w| head.contains(w)),
        "window {first}.. should come right after the seek: {head:?}"
    );
    let cancels = sim.nodes[viewer].torrent.stats().wasted;
    assert!(
        cancels <= 4 * 1024 * 1024,
        "cancelled blocks that still arrived are bounded: {cancels}"
    );
}

#[test]
fn simulation_is_deterministic() {
    let run = || {
        let mut sim = Sim::new(2 * MIB, Some(64 * 1024), 8);
        let s = sim.add_seeder(MIB_S);
        let a = sim.add_leecher(MIB_S);
        let b = sim.add_leecher(MIB_S);
        sim.connect(s, a, link(20, 0.05));
        sim.connect(s, b, link(30, 0.05));
        sim.connect(a, b, link(5, 0.05));
        sim.run_to_completion(Duration::from_secs(60));
        (
            sim.now,
            sim.verified_order(a),
            sim.verified_order(b),
            sim.steps,
        )
    };
    assert_eq!(run(), run());
}

/// Requests for `count` blocks spread over the torrent, as raw wire bytes.
fn raw_requests(count: u32, first: u32, pieces: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..count {
        Message::Request(BlockRef {
            index: (first + i) % pieces,
            begin: 0,
            length: BLOCK_SIZE,
        })
        .encode_into(&mut bytes);
    }
    bytes
}

fn all_complete(sim: &Sim, nodes: &[usize]) -> bool {
    nodes.iter().all(|&n| sim.nodes[n].torrent.is_complete())
}

#[test]
fn a_peer_that_requests_without_reading_is_dropped_and_costs_bounded_memory() {
    let mut sim = Sim::new(8 * MIB, Some(256 * 1024), 11);
    let pieces = sim.metainfo.info.num_pieces();
    let seeder = sim.add_seeder(4 * MIB_S);
    let leechers: Vec<_> = (0..3).map(|_| sim.add_leecher(2 * MIB_S)).collect();
    for &l in &leechers {
        sim.connect(seeder, l, link(20, 0.0));
    }
    let hog = sim.add_non_reader(MIB_S);
    sim.connect(hog, seeder, link(20, 0.0));
    let key = sim.conn_between(hog, seeder).unwrap();
    let bound = sim.nodes[seeder].torrent.queued_output_bound();
    let mut interested = Vec::new();
    Message::Interested.encode_into(&mut interested);
    sim.inject(hog, seeder, &interested);
    // 200 requests a second, under the flood rate, and never a byte read.
    let mut most_queued = 0;
    let mut at = Duration::ZERO;
    let mut sent = 0;
    while at < Duration::from_secs(90) && sim.conn_between(hog, seeder).is_some() {
        at += Duration::from_millis(100);
        sim.run_until(at, |s| {
            let queued = s.nodes[seeder].torrent.queued_output(key).unwrap_or(0);
            most_queued = most_queued.max(queued);
            false
        });
        sim.inject(hog, seeder, &raw_requests(20, sent, pieces));
        sent += 20;
    }
    let dropped = sim.events_where(
        seeder,
        |e| matches!(e, Event::Disconnect { peer, .. } if *peer == key),
    );
    let (when, Event::Disconnect { reason, .. }) =
        dropped.first().expect("the hog is dropped").clone()
    else {
        unreachable!()
    };
    assert!(
        reason.contains("not reading") || reason.contains("stopped reading"),
        "{reason}"
    );
    eprintln!("hog dropped at {when:?}: {reason}; most queued {most_queued} of {bound}");
    assert!(when <= Duration::from_secs(40), "dropped only at {when:?}");
    assert!(
        most_queued <= bound,
        "{most_queued} bytes queued for the hog, bound {bound}"
    );
    // Honest leechers were served all along.
    assert!(sim.run_until(Duration::from_secs(120), |s| all_complete(s, &leechers)));
    for &l in &leechers {
        assert!(sim.has_content(l), "node {l} has wrong or missing data");
    }
}

#[test]
fn a_flooding_peer_that_reconnects_is_refused_for_its_penalty() {
    let mut sim = Sim::new(8 * MIB, Some(256 * 1024), 12);
    let pieces = sim.metainfo.info.num_pieces();
    let seeder = sim.add_seeder(2 * MIB_S);
    let leechers: Vec<_> = (0..2).map(|_| sim.add_leecher(MIB_S)).collect();
    for &l in &leechers {
        sim.connect(seeder, l, link(20, 0.0));
    }
    let flooder = sim.add_scripted_leecher(MIB_S);
    let flooder_id = seedcast::engine::Config::peer_id_from_seed(flooder as u64 + 1);
    sim.connect(flooder, seeder, link(20, 0.0));
    sim.run_until(Duration::from_secs(1), |_| false);
    sim.inject(flooder, seeder, &raw_requests(600, 0, pieces));
    let flooded = |s: &Sim| {
        s.events_where(
            seeder,
            |e| matches!(e, Event::PeerPenalised { peer_id, .. } if *peer_id == flooder_id),
        )
    };
    assert!(sim.run_until(Duration::from_secs(2), |s| !flooded(s).is_empty()));
    let (offence, Event::PeerPenalised { until, .. }) = flooded(&sim)[0].clone() else {
        unreachable!()
    };
    assert!(until > offence);
    let got_at_offence = sim.nodes[flooder].torrent.stats().downloaded;
    // The observed loop: back every 2 s. Each handshake is refused.
    let ready = |s: &Sim| {
        s.events_where(
            seeder,
            |e| matches!(e, Event::PeerReady { peer_id, .. } if *peer_id == flooder_id),
        )
        .len()
    };
    let mut at = sim.now;
    for _ in 0..9 {
        at += Duration::from_secs(2);
        sim.run_until(at, |_| false);
        assert!(sim.nodes[seeder].torrent.refuses_peer(&flooder_id, sim.now));
        sim.connect(flooder, seeder, link(20, 0.0));
    }
    sim.run_until(at + Duration::from_secs(1), |_| false);
    assert_eq!(ready(&sim), 1, "only the first connection was accepted");
    let refused = sim.events_where(
        seeder,
        |e| matches!(e, Event::Disconnect { reason, .. } if reason.contains("penalised")),
    );
    assert_eq!(refused.len(), 9);
    assert_eq!(
        sim.nodes[flooder].torrent.stats().downloaded,
        got_at_offence,
        "nothing served while penalised"
    );
    // Once the penalty is over it may come back.
    assert!(!sim.nodes[seeder].torrent.refuses_peer(&flooder_id, until));
    sim.run_until(until + Duration::from_secs(1), |_| false);
    sim.connect(flooder, seeder, link(20, 0.0));
    sim.run_until(until + Duration::from_secs(2), |_| false);
    assert_eq!(ready(&sim), 2);
    assert!(sim.run_until(Duration::from_secs(200), |s| all_complete(s, &leechers)));
    for &l in &leechers {
        assert!(sim.has_content(l), "node {l} has wrong or missing data");
    }
}
