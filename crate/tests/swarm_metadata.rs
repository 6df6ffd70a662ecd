//! Magnet starts in the simulator (see `sim/mod.rs`) with peers that lie about the metadata
//! or announce a wrong metadata size.

mod sim;

use std::time::Duration;

use seedcast::engine::{Config, Event};
use seedcast::wire::METADATA_PIECE_SIZE;
use sim::{LinkSpec, Sim};

const MIB: usize = 1024 * 1024;
const MIB_S: u64 = 1024 * 1024;

fn link(ms: u64) -> LinkSpec {
    LinkSpec {
        latency: Duration::from_millis(ms),
        ..LinkSpec::default()
    }
}

fn banned_ids(sim: &Sim, node: usize) -> Vec<[u8; 20]> {
    sim.nodes[node]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerBanned { peer_id, .. } => *peer_id,
            _ => None,
        })
        .collect()
}

fn id_of(node: usize) -> [u8; 20] {
    Config::peer_id_from_seed(node as u64 + 1)
}

#[test]
fn a_metadata_liar_among_honest_sources_is_the_only_one_banned() {
    // 1,792 pieces of 16 KiB: an info dictionary of three metadata pieces, so the first copy
    // mixes the liar's pieces with an honest peer's.
    let mut sim = Sim::new(28 * MIB, Some(16 * 1024), 21);
    let piece = METADATA_PIECE_SIZE as usize;
    assert!(sim.metainfo.info_bytes.len() > 2 * piece);
    // The liar flips a byte in every metadata piece it serves.
    let mut forged = sim.metainfo.info_bytes.clone();
    for start in (0..forged.len()).step_by(piece) {
        forged[start + 100] ^= 0x55;
    }
    let liar = sim.add_seeder_with_info(4 * MIB_S, forged);
    let honest: Vec<_> = (0..3).map(|_| sim.add_seeder(4 * MIB_S)).collect();
    let magnet = sim.add_magnet_leecher(4 * MIB_S);
    // The liar is closest, so it is asked first.
    sim.connect(liar, magnet, link(10));
    for (i, &h) in honest.iter().enumerate() {
        sim.connect(h, magnet, link(20 + 10 * i as u64));
    }
    assert!(
        sim.run_to_completion(Duration::from_secs(120)),
        "magnet leecher did not finish"
    );
    assert_eq!(
        sim.nodes[magnet].torrent.info_bytes(),
        Some(&sim.metainfo.info_bytes[..])
    );
    assert!(sim.has_content(magnet), "wrong or missing data");
    assert_eq!(
        banned_ids(&sim, magnet),
        vec![id_of(liar)],
        "exactly the liar is banned: {:?}",
        sim.banned_by(magnet)
    );
}

#[test]
fn a_peer_announcing_a_wrong_metadata_size_does_not_stall_a_magnet_leecher() {
    let mut sim = Sim::new(2 * MIB, Some(16 * 1024), 22);
    // Announces 20,000 bytes too many and serves them at a trickle.
    let mut padded = sim.metainfo.info_bytes.clone();
    padded.extend_from_slice(&[b'x'; 20_000]);
    let wrong = sim.add_seeder_with_info(100, padded);
    let honest = sim.add_seeder(4 * MIB_S);
    let magnet = sim.add_magnet_leecher(4 * MIB_S);
    sim.connect(wrong, magnet, link(5));
    // The honest seeder turns up once the wrong size is known and being fetched.
    let joined = Duration::from_secs(5);
    sim.run_until(joined, |_| false);
    assert!(sim.nodes[magnet].metadata_at.is_none());
    sim.connect(honest, magnet, link(20));
    assert!(
        sim.run_to_completion(Duration::from_secs(60)),
        "magnet leecher did not finish"
    );
    let meta_at = sim.nodes[magnet].metadata_at.expect("metadata arrived");
    // The honest seeder answers in a few round trips; the wrong one would take minutes.
    assert!(
        meta_at < joined + Duration::from_secs(2),
        "metadata took {meta_at:?}"
    );
    assert!(sim.has_content(magnet), "wrong or missing data");
    assert!(
        banned_ids(&sim, magnet).is_empty(),
        "a different size proves no lie: {:?}",
        sim.banned_by(magnet)
    );
}

#[test]
fn a_magnet_leecher_gets_the_metadata_from_a_leecher_that_got_it_after_they_connected() {
    let mut sim = Sim::new(2 * MIB, Some(16 * 1024), 23);
    let first = sim.add_magnet_leecher(4 * MIB_S);
    let second = sim.add_magnet_leecher(4 * MIB_S);
    // They meet while neither has the metadata: both extension handshakes announce no size.
    sim.connect(first, second, link(10));
    let met = Duration::from_secs(1);
    sim.run_until(met, |_| false);
    assert!(sim.nodes[first].metadata_at.is_none() && sim.nodes[second].metadata_at.is_none());
    // Only `first` ever meets the seeder; `second`'s one source is `first`.
    let seeder = sim.add_seeder(4 * MIB_S);
    sim.connect(seeder, first, link(10));
    assert!(
        sim.run_until(Duration::from_secs(60), |s| s.nodes[second]
            .metadata_at
            .is_some()),
        "the second leecher never got the metadata from the first"
    );
    assert!(
        sim.run_to_completion(Duration::from_secs(120)),
        "the second leecher did not finish"
    );
    assert!(sim.has_content(second), "wrong or missing data");
}
