//! One torrent's browser side: its storage, file streams and what the page shows about it.
//! Its engine and connections live in the client's `Session` (by the same info hash).

use crate::engine::Torrent as Engine;
use crate::session::webseed::WebSeeds;

use super::creator::CreatorView;
use super::storage::SharedStorage;
use super::stream::Streams;

pub struct Swarm {
    pub storage: SharedStorage,
    pub info_hash: [u8; 20],
    pub hex: String,
    /// `dn` of a magnet, until the metadata gives the real name.
    pub magnet_name: Option<String>,
    /// Announce URLs written into the torrent file and magnet link.
    pub trackers: Vec<String>,
    /// Where pieces persist: "opfs", "indexeddb", "memory" or "files" (shown in stats).
    pub storage_kind: &'static str,
    /// Open file streams and their waiters (woken on `PieceVerified`/`MetadataReady`).
    pub streams: Streams,
    /// The creator record, verified once when first asked for after the metadata arrived.
    creator: std::cell::OnceCell<Option<CreatorView>>,
    /// BEP 19 web seeds (a torrent's `url-list`, a magnet's `ws=`); run by `webseed.rs`.
    pub webseeds: WebSeeds,
    /// False while the browser storage is being opened (the torrent is held in the session
    /// meanwhile, see `resume.rs`): web seeds wait too.
    pub storage_ready: bool,
}

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("info_hash", &self.hex)
            .finish_non_exhaustive()
    }
}

impl Swarm {
    pub fn new(
        info_hash: [u8; 20],
        storage: SharedStorage,
        magnet_name: Option<String>,
        trackers: Vec<String>,
    ) -> Swarm {
        Swarm {
            storage,
            info_hash,
            hex: hex(&info_hash),
            magnet_name,
            trackers,
            storage_kind: "memory",
            streams: Streams::default(),
            creator: std::cell::OnceCell::new(),
            webseeds: WebSeeds::new(),
            storage_ready: true,
        }
    }

    /// The torrent's creator record (`None` without one, or before the metadata).
    pub fn creator(&self, engine: &Engine) -> Option<CreatorView> {
        let info = engine.info()?;
        self.creator.get_or_init(|| CreatorView::of(info)).clone()
    }

    pub fn name(&self, engine: &Engine) -> Option<String> {
        engine
            .info()
            .map(|i| i.name.clone())
            .or_else(|| self.magnet_name.clone())
    }

    /// Keeps the `info` dictionary beside stored pieces, so a reload can resume from a
    /// magnet link without asking peers for the metadata again.
    pub fn save_info(&self, engine: &Engine) {
        let (Some(info), Some(bytes)) = (engine.info(), engine.info_bytes()) else {
            return;
        };
        if !self.storage.is_persistent() {
            return;
        }
        let (hex, bytes, name) = (self.hex.clone(), bytes.to_vec(), info.name.clone());
        let (length, piece_length) = (info.total_length, info.piece_length);
        wasm_bindgen_futures::spawn_local(async move {
            // Best effort: without it a reload asks peers for the metadata again.
            let _ = super::store::put_info(&hex, &bytes, &name, length, piece_length).await;
        });
    }
}

pub fn hex(bytes: &[u8]) -> String {
    crate::metainfo::lower_hex(bytes)
}
