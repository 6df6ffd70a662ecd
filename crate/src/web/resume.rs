//! Opening a torrent's browser storage, and resuming from what is already there (the policy,
//! shared with the native driver, is `crate::session::resume`; this is the store I/O).
//!
//! A download (magnet or .torrent) starts held in the session (`Session::hold_torrent`): it
//! does not announce, so no peer connects, until the storage worker has said what it holds.
//! Then the engine is rebuilt with the stored `info` (a magnet skips the metadata exchange) and
//! the stored pieces as `have` — safe because the engine has no peers yet.
//!
//! Stored pieces are trusted for `have` but not for their bytes: a crash, a full disk, the
//! user clearing site data or another program can leave a mark whose bytes are short or
//! wrong. They are verified on read (every first read after a reload hashes the piece
//! before a peer or the player gets it, see storage.rs) and by a background pass at a
//! bounded pace. Why both: hashing everything before resuming would read the whole store
//! (gigabytes) before a video could start; verify-on-read alone would show "done" for a
//! piece that nobody reads but is broken, and serve rejects for it. A piece that fails is
//! lost (`Torrent::lose_piece`): announced as gone, its mark dropped, downloaded again.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::client::ClientInner;
use super::js_glue::now;
use super::notes::Note;
use super::storage::StorageNews;
use super::store::{self, Kind, Stored};
use crate::metainfo::InfoHash;
use crate::session::piece_cache::StorageFailure;
use crate::session::resume::{
    Current, Metadata, ResumeEvent, Stored as StoredState, rebuild_engine, resume,
};

impl ClientInner {
    /// Starts opening the storage of swarm `hex` (added held); it announces once that is
    /// done. A client kept in memory has nothing to open: the swarm is released at once, so
    /// `add()` itself sends the announce (through a task it waited for the caller's own work
    /// after `add()`: 4–6 ms on a warm player's first-frame path, traced in bench-stream).
    pub fn open_storage(&mut self, hex: &str) {
        if self.storage_preference == "memory" {
            self.storage_opened(hex, Kind::Memory, Ok(Stored::default()));
            self.run();
            return;
        }
        if let Some(swarm) = self.swarms.get_mut(hex) {
            swarm.storage_ready = false;
        }
        let (handle, hex, preference) = (
            self.handle.clone(),
            hex.to_owned(),
            self.storage_preference.clone(),
        );
        wasm_bindgen_futures::spawn_local(async move {
            let kind = store::init(&preference).await;
            let result = if kind == Kind::Memory {
                Ok(Stored::default())
            } else {
                store::open(&hex).await
            };
            let opened = handle.with(|c| c.storage_opened(&hex, kind, result));
            if opened != Some(true) && kind != Kind::Memory {
                // Removed (or the client destroyed) while opening: release the files.
                let _ = store::close(&hex).await;
            }
        });
    }

    /// Returns false if the swarm is gone.
    fn storage_opened(&mut self, hex: &str, kind: Kind, result: Result<Stored, String>) -> bool {
        let now = now();
        let Some(info_hash) = self.swarms.get(hex).map(|s| s.info_hash) else {
            return false;
        };
        let config = self.session.engine_config(&info_hash);
        let Some((engine, swarm)) = self.parts(hex) else {
            return false;
        };
        let mut resumed_engine = None;
        match result {
            Ok(stored) if kind != Kind::Memory => {
                swarm.storage_kind = kind.name();
                let current = Current {
                    metadata: engine
                        .info()
                        .cloned()
                        .zip(engine.info_bytes().map(<[u8]>::to_vec))
                        .map(|(info, bytes)| Metadata { info, bytes }),
                    complete: engine.is_complete(),
                };
                let stored = StoredState {
                    info: stored.info.as_deref(),
                    pieces: &stored.pieces,
                };
                let plan = resume(&swarm.info_hash, current, stored, swarm.streams.set());
                // The layout first: pieces already in memory are written as the store is
                // switched on, and a write needs the piece length.
                if let Some(plan) = &plan {
                    swarm.storage.set_layout(&plan.metadata.info);
                }
                swarm.storage.use_store();
                if let Some(plan) = plan {
                    swarm.storage.verify_stored(plan.have.iter_ones().collect());
                    if let Some(readers) = plan.rebuild {
                        let fresh = rebuild_engine(
                            InfoHash(swarm.info_hash),
                            plan.metadata,
                            plan.have,
                            &readers,
                            Box::new(swarm.storage.clone()),
                            config,
                            now,
                        );
                        // Streams opened meanwhile keep their windows (`readers`) and their reads
                        // look again.
                        swarm.streams.storage_resumed();
                        if plan.save_info {
                            swarm.save_info(&fresh);
                        }
                        resumed_engine = Some(fresh);
                    } else if plan.save_info {
                        swarm.save_info(engine);
                    }
                    for event in plan.events {
                        let kinds: &[&'static str] = match event {
                            ResumeEvent::MetadataReady => &["metadata", "ready"],
                            ResumeEvent::Progress => &["progress"],
                            ResumeEvent::Done => &["done"],
                        };
                        for &kind in kinds {
                            self.notes.push(Note::new(hex, kind, JsValue::UNDEFINED));
                        }
                    }
                }
            }
            Ok(_) => swarm.storage_kind = Kind::Memory.name(),
            Err(e) => {
                swarm.storage_kind = Kind::Memory.name();
                self.notes.push(Note::error(
                    hex,
                    "storage-failed",
                    &format!("browser storage is unavailable ({e}); pieces are kept in memory"),
                    false,
                ));
            }
        }
        if let Some(fresh) = resumed_engine {
            // Pieces too large for a tab (metadata stored by an older version) stop the
            // torrent: the session says `TorrentStopped`.
            if self.session.replace_engine(&info_hash, fresh, now).is_err() {
                return true;
            }
        }
        if let Some(swarm) = self.swarms.get_mut(hex) {
            swarm.storage_ready = true;
        }
        self.session.hold_torrent(&info_hash, false, now);
        true
    }

    /// The waker given to a swarm's storage.
    pub fn storage_waker(&self, hex: &str) -> Rc<dyn Fn(StorageNews)> {
        let (handle, hex) = (self.handle.clone(), hex.to_owned());
        Rc::new(move |news| {
            handle.with(|c| c.on_storage_news(&hex, news));
        })
    }

    fn on_storage_news(&mut self, hex: &str, news: StorageNews) {
        let now = now();
        let mut notes = std::mem::take(&mut self.notes);
        if let Some((engine, swarm)) = self.parts(hex) {
            match news {
                StorageNews::Failed { kind, message } => notes.push(match kind {
                    StorageFailure::Full => Note::error(hex, "storage-quota", &message, false),
                    StorageFailure::Write => Note::error(hex, "storage-failed", &message, false),
                    StorageFailure::Read => Note::warning(hex, message),
                }),
                StorageNews::Lost { pieces, message } => {
                    for &index in &pieces {
                        engine.lose_piece(index, now);
                    }
                    if swarm.storage.is_persistent() {
                        let hex = hex.to_owned();
                        wasm_bindgen_futures::spawn_local(async move {
                            // Best effort: if this fails, the next visit re-checks anyway.
                            let _ = store::forget(&hex, &pieces).await;
                        });
                    }
                    notes.push(Note::warning(hex, message));
                    notes.push(Note::new(hex, "progress", JsValue::UNDEFINED));
                }
                StorageNews::Loaded | StorageNews::Written => {}
            }
        }
        self.notes = notes;
        // The engine may want to send or request again (a load landed, a write freed room).
        self.session.handle_timeout(now);
    }
}
