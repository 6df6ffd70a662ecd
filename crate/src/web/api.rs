//! The JavaScript API (wasm-bindgen): `Client` and `Torrent`.
//!
//! Everything a page passes in is validated here with a one-line `Error` on failure.
//! Listeners are called later, from a microtask, so they may call back into the API freely.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

use super::client::{ClientInner, ClientOptions};
use super::js_glue::{get, now, random_u64};
use super::storage::SharedStorage;
use super::swarm::Swarm;
use super::wallet::coded_error;
use super::{files, peer_conn, seed, store, tip, wallet};
use crate::engine::config::DATA_CHANNEL_INITIAL_PIPELINE;
use crate::engine::{Bitfield, Config, Torrent as Engine};
use crate::magnet::Magnet;
use crate::metainfo::{InfoHash, Metainfo};
use crate::session::check_browser_piece_length;
use crate::tip::{Chain, TipError, TipErrorCode, TipRequest, parse_btt};

const DEFAULT_MAX_PEERS: usize = 30;
const MAX_MAX_PEERS: usize = 200;
const MAX_TRACKERS: usize = 10;
const MAX_URL_CHARS: usize = 2048;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
export interface ClientOptions {
  /** WebSocket tracker URLs (`ws://` or `wss://`). */
  trackers?: string[];
  /** Passed to every RTCPeerConnection; default none (fine on one network). */
  iceServers?: RTCIceServer[];
  /** Most connections per torrent (default 30). */
  maxPeers?: number;
  /** Where downloaded pieces are kept: `auto` (default: OPFS, else IndexedDB, else memory),
   *  `opfs`, `indexeddb` or `memory`. A persistent store keeps every verified piece on disk
   *  (they survive reloads and are seeded again) and only a bounded cache of them in memory.
   *  `memory` keeps every piece of every torrent in the tab's memory until the torrent is
   *  removed: a tab needs RAM for the whole torrent, and nothing survives a reload.
   *  One persistent store per page: a client asking for another store than the page's first
   *  client (`memory` aside) throws. */
  storage?: 'auto' | 'opfs' | 'indexeddb' | 'memory';
  /** Seconds an unfinished torrent may go without any connected peer (or web seed) before it
   *  reports an `error` with code `no-peers` (it keeps looking). Default 30. Read by seedcast.js. */
  noPeersTimeout?: number;
  /** Seconds an unfinished torrent may receive nothing before it reports `stalled`. Default 15.
   *  Read by seedcast.js. */
  stallTimeout?: number;
  /** Most bytes per second this client uploads (all torrents and peers together); default unlimited. */
  uploadLimit?: number;
  /** Where tips go: `'bttc'` (BitTorrent Chain mainnet, id 199; the default), `'donau'`
   *  (its testnet, id 1029) or a chain of your own (e.g. a local node). `tipJar`: a TipJar
   *  contract tips are sent through (it forwards them at once and logs them per work);
   *  without one, tips go straight to the creator. Set by the page, never from a link. */
  chain?: 'bttc' | 'donau' | ChainInput;
  /** TEST ONLY: corrupt every block this client uploads. */
  testOnlyCorruptUploads?: boolean;
}
export interface StoredTorrent {
  infoHash: string; name: string | null; length: number | null;
  storedBytes: number; storedPieces: number;
}
export interface SeedOptions {
  /** Torrent name; defaults to the file's or dropped folder's name. */
  name?: string;
  /** Publish as a creator: the wallet (a uuid or rdns from `wallets()`; default the first)
   *  signs a creator record with `name` (at most 64 bytes) into the torrent
   *  (`eth_signTypedData_v4`, no chain switch needed). */
  creator?: { name: string; wallet?: string };
}
/** `tipJarFromBlock`: the TipJar's deployment block, where counting its tips starts
 *  (default: about the last week of blocks). */
export interface ChainInput { id: number; name: string; rpcUrls: string[]; explorer: string; tipJar?: string | null; tipJarFromBlock?: number | null }
export interface Chain { id: number; name: string; rpcUrls: string[]; explorer: string; tipJar: string | null; tipJarFromBlock: number | null }
export interface WalletInfo { uuid: string; name: string; rdns: string; icon: string }
/** A torrent's creator record. `verified`: its address signed exactly this torrent's content
 *  and name (only then can it be tipped). `address` (EIP-55) and `name` are null only for a
 *  record too malformed to read; `reason` says why a record is unverified. */
export interface Creator { address: string | null; name: string | null; verified: boolean; reason?: string }
export type TipStage = 'connecting' | 'switching-chain' | 'checking-balance' | 'confirm-in-wallet' | 'confirming';
export interface TipOptions {
  /** A wallet's uuid or rdns (see `wallets()`); default the first one found. */
  wallet?: string;
  /** At most 280 bytes of UTF-8, public on the chain (in the TipJar's event, or as the
   *  transaction's data when tipping directly). */
  message?: string;
  /** Called with each stage, to show the viewer what is happening. */
  onStage?: (stage: TipStage) => void;
}
export interface WorkTips { count: number; totalWei: string; recent: { from: string; amountWei: string; message: string; txHash: string; block: number }[] }
/** Per hex info hash; `complete` is false while older blocks remain to be read. */
export interface CreatorTips { works: Record<string, WorkTips>; fromBlock: number | null; toBlock: number | null; complete: boolean }
/** A creator's channel as verified in the page. `name`, `sequence` and `works` only when
 *  `verified`; otherwise `reason` says why nothing from it can be trusted. */
export interface ChannelView {
  address: string; verified: boolean; reason?: string; name?: string; sequence?: number;
  works: { infoHash: string; magnet: string; title: string; poster: string | null; published: number }[];
}
export interface PublishOptions {
  /** A wallet's uuid or rdns (default: the first); its account is the channel's creator. */
  wallet?: string;
  /** The work's title (default: the torrent's name), at most 200 bytes. */
  title?: string;
  /** A `data:image/(jpeg|png|webp);base64,` URI of at most 32 KiB. */
  poster?: string;
  /** The channel's display name (default: kept, or empty for a new channel). */
  name?: string;
  /** The channel server's origin (default: this page's). */
  server?: string;
}
export interface PublishResult { url: string; sequence: number }
/** `amountWei` is a decimal string (wei do not fit a JS number). */
export interface TipResult { txHash: string; amountWei: string; chainId: number }
export interface TorrentStats {
  progress: number; length: number | undefined; verified: number;
  numPieces: number; piecesVerified: number;
  /** Bytes per piece (the last may be shorter); undefined until the metadata is known. */
  pieceLength: number | undefined;
  downloaded: number; uploaded: number; wasted: number;
  downloadSpeed: number; uploadSpeed: number;
  peers: number; done: boolean; hasMetadata: boolean;
  /** `opfs`, `indexeddb` or `memory`; `cachedBytes`: verified piece bytes in memory now;
   *  `unsavedBytes`: verified bytes not yet written to browser storage (a tab closed now
   *  would have to download them again). */
  storage: string; cachedBytes: number; unsavedBytes: number;
  /** BEP 19 web seeds; `state` is `ready`, `backoff` or `dropped: <reason>`. `downloadSpeed`
   *  above counts them too. */
  webSeeds: WebSeedInfo[];
}
export interface WebSeedInfo {
  url: string; state: string; downloaded: number; downloadSpeed: number; inFlight: number;
}
export interface FileInfo {
  index: number; name: string; path: string; length: number; offset: number;
  progress: number; done: boolean;
}
export interface PeerInfo {
  peerId: string; client: string | undefined; downloaded: number; uploaded: number;
  downloadSpeed: number; uploadSpeed: number; pieces: number | undefined;
}
/** `infoHash` is null for client-wide events (`tracker`). */
export type ClientEventListener = (infoHash: string | null, type: string, detail: any) => void;
"#;

/// A BitTorrent client in this page: talks to trackers, holds torrents.
#[wasm_bindgen]
pub struct Client {
    inner: Rc<RefCell<ClientInner>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}

fn fail(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

/// The client's state for an API call. Browser callbacks never run while Rust code does and
/// listeners are called with nothing borrowed, so this only fails on a driver bug; it
/// reports an error instead of panicking.
fn state(inner: &Rc<RefCell<ClientInner>>) -> Result<std::cell::RefMut<'_, ClientInner>, JsError> {
    inner
        .try_borrow_mut()
        .map_err(|_| fail("seedcast is busy (re-entrant call)"))
}

fn parse_options(options: &JsValue) -> Result<ClientOptions, JsError> {
    let trackers_value = get(options, "trackers");
    let mut trackers = Vec::new();
    if !trackers_value.is_undefined() {
        if !Array::is_array(&trackers_value) {
            return Err(fail("`trackers` must be an array of ws:// or wss:// URLs"));
        }
        for url in Array::from(&trackers_value).iter() {
            let url = url
                .as_string()
                .ok_or_else(|| fail("`trackers` must hold strings"))?;
            let url = url.trim().to_owned();
            if !(url.starts_with("ws://") || url.starts_with("wss://")) || url.len() > MAX_URL_CHARS
            {
                return Err(fail(format!(
                    "`{url}` is not a ws:// or wss:// tracker URL"
                )));
            }
            if !trackers.contains(&url) {
                trackers.push(url);
            }
        }
        if trackers.len() > MAX_TRACKERS {
            return Err(fail(format!("at most {MAX_TRACKERS} trackers")));
        }
    }
    let ice = get(options, "iceServers");
    let ice_servers = if ice.is_undefined() {
        Array::new().into()
    } else if Array::is_array(&ice) {
        ice
    } else {
        return Err(fail("`iceServers` must be an array of RTCIceServer"));
    };
    let max_peers = match get(options, "maxPeers").as_f64() {
        None => DEFAULT_MAX_PEERS,
        Some(n) if n >= 1.0 && n <= MAX_MAX_PEERS as f64 => n as usize,
        Some(_) => {
            return Err(fail(format!(
                "`maxPeers` must be from 1 to {MAX_MAX_PEERS}"
            )));
        }
    };
    let upload_limit = match get(options, "uploadLimit") {
        v if v.is_undefined() || v.is_null() => None,
        v => match v.as_f64() {
            Some(n) if n.is_finite() && n >= 1.0 => Some(n as u64),
            _ => {
                return Err(fail(
                    "`uploadLimit` must be a number of bytes per second (at least 1)",
                ));
            }
        },
    };
    let corrupt_uploads = get(options, "testOnlyCorruptUploads")
        .as_bool()
        .unwrap_or(false);
    let storage_value = get(options, "storage");
    let storage_preference = match storage_value.as_string().as_deref() {
        None if storage_value.is_undefined() => "auto".to_owned(),
        Some(s @ ("auto" | "opfs" | "indexeddb" | "memory")) => s.to_owned(),
        _ => {
            return Err(fail(
                "`storage` must be \"auto\", \"opfs\", \"indexeddb\" or \"memory\"",
            ));
        }
    };
    let chain = parse_chain(&get(options, "chain"))?;
    let peer_id = Config::peer_id_from_seed(random_u64());
    Ok(ClientOptions {
        chain,
        trackers,
        ice_servers,
        max_peers,
        corrupt_uploads,
        storage_preference,
        peer_id,
        upload_limit,
    })
}

thread_local! {
    /// The persistent-store preference of this page's first client that stores pieces: the
    /// storage worker picks its backend once (piece_store.js), so a later client asking for
    /// another would silently get the first one's.
    static PAGE_STORE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Fails when `preference` conflicts with the page's store (`memory` never does: it uses no
/// store). Invariant: every client of a page that persists pieces asked for the same store.
fn claim_page_store(preference: &str) -> Result<(), JsError> {
    if preference == "memory" {
        return Ok(());
    }
    PAGE_STORE.with(|page| {
        let mut page = page.borrow_mut();
        match page.as_deref() {
            Some(chosen) if chosen != preference => Err(fail(format!(
                "`storage: \"{preference}\"` conflicts with this page's storage \"{chosen}\" \
                 (chosen by its first client): every client of a page keeps its pieces in one \
                 store; pass the same value, or \"memory\""
            ))),
            _ => {
                *page = Some(preference.to_owned());
                Ok(())
            }
        }
    })
}

#[wasm_bindgen]
impl Client {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "ClientOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> Result<Client, JsError> {
        let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
        let options = parse_options(&options)?;
        claim_page_store(&options.storage_preference)?;
        Ok(Client {
            inner: ClientInner::create(options),
        })
    }

    /// Receives every event: `(infoHash | null, type, detail)`.
    #[wasm_bindgen(js_name = setListener)]
    pub fn set_listener(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ClientEventListener | null")] listener: Option<
            Function,
        >,
    ) {
        if let Ok(mut inner) = state(&self.inner) {
            inner.set_listener(listener);
        }
    }

    /// Our peer id (printable ASCII, `-SC0100-…`).
    #[wasm_bindgen(getter, js_name = peerId)]
    pub fn peer_id(&self) -> String {
        state(&self.inner)
            .map(|i| String::from_utf8_lossy(&i.peer_id).into_owned())
            .unwrap_or_default()
    }

    /// Starts downloading from a magnet link (metadata is fetched from peers).
    #[wasm_bindgen(js_name = addMagnet)]
    pub fn add_magnet(&self, uri: &str) -> Result<Torrent, JsError> {
        let magnet = Magnet::parse(uri.trim()).map_err(fail)?;
        let mut inner = state(&self.inner)?;
        ensure_new(&inner, &magnet.info_hash)?;
        let storage = SharedStorage::new(&magnet.info_hash.to_hex(), inner.corrupt_uploads);
        let engine = Engine::from_info_hash(
            magnet.info_hash,
            Box::new(storage.clone()),
            inner.session.engine_config(&magnet.info_hash.0),
            now(),
        );
        let trackers = merged(&magnet.trackers, &inner);
        let mut swarm = Swarm::new(magnet.info_hash.0, storage, magnet.name, trackers);
        let refused = super::webseed::add_urls(&mut swarm.webseeds, &magnet.web_seeds);
        let torrent = self.insert(&mut inner, swarm, engine, true)?;
        for message in refused {
            inner.notify(super::notes::Note::warning(&torrent.hex, message));
        }
        inner.open_storage(&torrent.hex);
        Ok(torrent)
    }

    /// Starts downloading from the bytes of a .torrent file.
    #[wasm_bindgen(js_name = addTorrentFile)]
    pub fn add_torrent_file(&self, bytes: &[u8]) -> Result<Torrent, JsError> {
        let meta = Metainfo::from_bytes(bytes)
            .map_err(|e| fail(format!("not a usable .torrent file: {e}")))?;
        check_browser_piece_length(meta.info.piece_length)
            .map_err(|e| fail(format!("cannot add this torrent: {e}")))?;
        let mut inner = state(&self.inner)?;
        ensure_new(&inner, &meta.info_hash)?;
        let storage = SharedStorage::new(&meta.info_hash.to_hex(), inner.corrupt_uploads);
        storage.set_layout(&meta.info);
        let trackers = merged(&meta.trackers.concat(), &inner);
        let engine = Engine::new(
            meta.info_hash,
            meta.info,
            meta.info_bytes,
            Box::new(storage.clone()),
            None,
            inner.session.engine_config(&meta.info_hash.0),
            now(),
        );
        let mut swarm = Swarm::new(meta.info_hash.0, storage, None, trackers);
        let refused = super::webseed::add_urls(&mut swarm.webseeds, &meta.web_seeds);
        let torrent = self.insert(&mut inner, swarm, engine, true)?;
        for message in refused {
            inner.notify(super::notes::Note::warning(&torrent.hex, message));
        }
        inner.open_storage(&torrent.hex);
        inner.notify(super::notes::Note::new(
            &torrent.hex,
            "metadata",
            JsValue::UNDEFINED,
        ));
        inner.notify(super::notes::Note::new(
            &torrent.hex,
            "ready",
            JsValue::UNDEFINED,
        ));
        Ok(torrent)
    }

    /// Hashes a `File`, `FileList`, array of files, `Blob` or bytes in the page and seeds it.
    /// Resolves once hashing is done; the torrent's `magnetURI` and `torrentFile()` are then ready.
    #[wasm_bindgen(unchecked_return_type = "Promise<Torrent>")]
    pub fn seed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "File | File[] | FileList | Blob | Uint8Array")]
        input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SeedOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> Promise {
        let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
        let weak = Rc::downgrade(&self.inner);
        let name = get(&options, "name").as_string();
        let creator = match parse_creator(&get(&options, "creator")) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&coded_error(&e)),
        };
        let (corrupt, trackers) = {
            let Ok(inner) = state(&self.inner) else {
                return Promise::reject(&fail("seedcast is busy (re-entrant call)").into());
            };
            (inner.corrupt_uploads, inner.session.pinned_trackers())
        };
        wasm_bindgen_futures::future_to_promise(async move {
            // The wallet first: a missing or refusing wallet fails before minutes of hashing.
            let signer = match creator {
                Some((creator_name, choice)) => {
                    let provider = wallet::provider(choice.as_deref())
                        .await
                        .map_err(|e| coded_error(&e))?;
                    let address = tip::account(&provider).await.map_err(|e| coded_error(&e))?;
                    Some((provider, address, creator_name))
                }
                None => None,
            };
            // Not borrowing the client while hashing: the page stays fully usable.
            let (unsigned, source) = seed::create(&input, name, trackers.clone())
                .await
                .map_err(|e| JsValue::from(fail(e)))?;
            let meta = match signer {
                None => unsigned.finish(None).map_err(|e| JsValue::from(fail(e)))?,
                Some((provider, address, creator_name)) => {
                    let creator = tip::sign_record(&provider, address, &creator_name, &unsigned)
                        .await
                        .map_err(|e| coded_error(&e))?;
                    unsigned.finish(Some(&creator)).map_err(|e| {
                        coded_error(&TipError {
                            code: TipErrorCode::Failed,
                            message: format!(
                                "the wallet's signature does not verify as {} ({e}); \
                                 smart-contract wallets cannot sign creator records",
                                address.to_checksum()
                            ),
                        })
                    })?
                }
            };
            // Served straight from the user's files: the page holds no copy of the content.
            let storage =
                SharedStorage::from_blobs(&meta.info_hash.to_hex(), &meta.info, source, corrupt);
            let rc = weak
                .upgrade()
                .ok_or_else(|| JsValue::from(fail("the client was destroyed")))?;
            let mut inner = state(&rc).map_err(JsValue::from)?;
            ensure_new(&inner, &meta.info_hash).map_err(JsValue::from)?;
            let have = Bitfield::full(meta.info.num_pieces());
            let info_hash = meta.info_hash.0;
            let engine = Engine::new(
                meta.info_hash,
                meta.info,
                meta.info_bytes,
                Box::new(storage.clone()),
                Some(have),
                inner.session.engine_config(&info_hash),
                now(),
            );
            let mut swarm = Swarm::new(info_hash, storage, None, trackers);
            swarm.storage_kind = "files";
            let torrent = Torrent {
                client: weak.clone(),
                hex: swarm.hex.clone(),
            };
            // No events: the resolved promise is the news that the torrent is ready and complete.
            inner
                .insert_swarm(swarm, engine, false)
                .map_err(|e| JsValue::from(fail(e)))?;
            Ok(torrent.into())
        })
    }

    /// The torrent with this hex info hash, if added.
    pub fn get(&self, #[wasm_bindgen(js_name = "infoHash")] info_hash: &str) -> Option<Torrent> {
        let hex = info_hash.to_ascii_lowercase();
        let known = state(&self.inner).ok()?.swarms.contains_key(&hex);
        known.then(|| Torrent {
            client: Rc::downgrade(&self.inner),
            hex,
        })
    }

    #[wasm_bindgen(getter)]
    pub fn torrents(&self) -> Vec<Torrent> {
        let weak = Rc::downgrade(&self.inner);
        let Ok(inner) = state(&self.inner) else {
            return Vec::new();
        };
        inner
            .swarms
            .keys()
            .map(|hex| Torrent {
                client: weak.clone(),
                hex: hex.clone(),
            })
            .collect()
    }

    /// RTCPeerConnections alive in this page (all clients): for leak checks and diagnostics.
    #[wasm_bindgen(js_name = liveConnections)]
    pub fn live_connections() -> u32 {
        peer_conn::live_connections()
    }

    /// What this page's origin keeps in browser storage (all clients, all tabs).
    #[wasm_bindgen(unchecked_return_type = "Promise<StoredTorrent[]>")]
    pub fn stored(&self) -> Promise {
        let preference = state(&self.inner)
            .map(|i| i.storage_preference.clone())
            .unwrap_or_else(|_| "auto".into());
        wasm_bindgen_futures::future_to_promise(async move {
            if store::init(&preference).await == store::Kind::Memory {
                return Ok(Array::new().into());
            }
            store::list().await.map_err(|e| fail(e).into())
        })
    }

    /// Deletes what is stored for one torrent (by hex info hash), or for every torrent when
    /// none is given. A torrent of this client that is being deleted is removed first.
    #[wasm_bindgen(js_name = clearStored)]
    pub fn clear_stored(
        &self,
        #[wasm_bindgen(js_name = "infoHash")] info_hash: Option<String>,
    ) -> Promise {
        let inner = self.inner.clone();
        let preference = state(&self.inner)
            .map(|i| i.storage_preference.clone())
            .unwrap_or_else(|_| "auto".into());
        wasm_bindgen_futures::future_to_promise(async move {
            if store::init(&preference).await == store::Kind::Memory {
                return Ok(JsValue::UNDEFINED);
            }
            let hexes: Vec<String> = match info_hash {
                Some(h) => vec![h.to_ascii_lowercase()],
                None => {
                    let list = store::list().await.map_err(|e| JsValue::from(fail(e)))?;
                    Array::from(&list)
                        .iter()
                        .filter_map(|t| get(&t, "infoHash").as_string())
                        .collect()
                }
            };
            for hex in hexes {
                if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(fail(format!("`{hex}` is not a hex info hash")).into());
                }
                if let Ok(mut i) = inner.try_borrow_mut() {
                    i.remove_swarm(&hex);
                }
                store::remove(&hex)
                    .await
                    .map_err(|e| JsValue::from(fail(e)))?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The browser wallets of this page (EIP-6963; `window.ethereum` when none announces).
    #[wasm_bindgen(unchecked_return_type = "Promise<WalletInfo[]>")]
    pub fn wallets(&self) -> Promise {
        wasm_bindgen_futures::future_to_promise(async { Ok(wallet::list().await) })
    }

    /// Tips a creator received per work through the chain's TipJar, from its logs:
    /// `{works: {<infoHash>: {count, totalWei, recent: [{from, amountWei, message, txHash,
    /// block}]}}, fromBlock, toBlock, complete}`. Each call reads only blocks not read before
    /// (at most 12 RPC calls; `complete: false` says older blocks are still to come).
    #[wasm_bindgen(unchecked_return_type = "Promise<CreatorTips>")]
    pub fn tips(&self, address: &str) -> Promise {
        let creator = match crate::creator::Address::parse(address.trim()) {
            Ok(a) => a,
            Err(e) => return Promise::reject(&fail(format!("not a creator address: {e}")).into()),
        };
        let weak = Rc::downgrade(&self.inner);
        wasm_bindgen_futures::future_to_promise(async move {
            super::tips::refresh(weak, creator)
                .await
                .map_err(|e| JsValue::from(fail(e)))
        })
    }

    /// The channel of creator `address` on `server` (default: this page's origin), verified
    /// here whatever the server says: `null` when there is none; `verified: false` (with the
    /// reason, and no works) when it is not exactly what that address signed.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChannelView | null>")]
    pub fn channel(&self, address: &str, server: Option<String>) -> Promise {
        let parsed = crate::creator::Address::parse(address.trim())
            .map_err(|e| format!("not a creator address: {e}"))
            .and_then(|a| Ok((a, super::channels::server_origin(server)?)));
        let weak = Rc::downgrade(&self.inner);
        wasm_bindgen_futures::future_to_promise(async move {
            let (address, origin) = parsed.map_err(|e| JsValue::from(fail(e)))?;
            match super::channels::load(&origin, &address)
                .await
                .map_err(|e| JsValue::from(fail(e)))?
            {
                None => Ok(JsValue::NULL),
                Some(checked) => {
                    if let (Ok(signed), Some(rc)) = (&checked, weak.upgrade()) {
                        if let Ok(mut inner) = rc.try_borrow_mut() {
                            super::channels::remember_works(&mut inner.channel_creators, signed);
                        }
                    }
                    Ok(super::channels::view(&address, &checked))
                }
            }
        })
    }

    /// The chain tips go to (validated `chain` option).
    #[wasm_bindgen(getter, unchecked_return_type = "Chain")]
    pub fn chain(&self) -> Result<JsValue, JsError> {
        let inner = state(&self.inner)?;
        chain_to_js(&inner.chain)
    }

    /// Changes the chain tips go to, validated as the `chain` option (refused: unchanged).
    /// A tip already under way keeps the chain it started with.
    #[wasm_bindgen(js_name = setChain)]
    pub fn set_chain(
        &self,
        #[wasm_bindgen(unchecked_param_type = "'bttc' | 'donau' | ChainInput")] chain: JsValue,
    ) -> Result<(), JsError> {
        let chain = parse_chain(&chain)?;
        state(&self.inner)?.chain = chain;
        Ok(())
    }

    /// Resolves once the client's spare WebRTC offers are made (at once where there is
    /// nothing to wait for), so an `add()` after it announces without waiting for them.
    #[wasm_bindgen(js_name = offersReady)]
    pub fn offers_ready(&self) -> Promise {
        match state(&self.inner) {
            Ok(mut inner) => inner.offers_ready(),
            Err(_) => Promise::resolve(&JsValue::UNDEFINED),
        }
    }

    /// Stops everything: torrents, connections, tracker sockets, timers.
    pub fn destroy(&self) {
        if let Ok(mut inner) = state(&self.inner) {
            inner.destroy();
        }
    }

    /// Adds a download, held until its storage is open (`open_storage`).
    fn insert(
        &self,
        inner: &mut ClientInner,
        swarm: Swarm,
        engine: Engine,
        held: bool,
    ) -> Result<Torrent, JsError> {
        let torrent = Torrent {
            client: Rc::downgrade(&self.inner),
            hex: swarm.hex.clone(),
        };
        inner.insert_swarm(swarm, engine, held).map_err(fail)?;
        Ok(torrent)
    }
}

/// `creator: {name, wallet?}` of `seed()`'s options: `None` when absent.
fn parse_creator(value: &JsValue) -> Result<Option<(String, Option<String>)>, TipError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let invalid = |message: &str| TipError {
        code: TipErrorCode::Failed,
        message: message.into(),
    };
    let name = get(value, "name")
        .as_string()
        .ok_or_else(|| invalid("`creator.name` must be a string (it may be empty)"))?;
    if name.len() > crate::creator::MAX_NAME_BYTES {
        return Err(invalid(&format!(
            "`creator.name` is longer than {} bytes",
            crate::creator::MAX_NAME_BYTES
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("`creator.name` may not hold control characters"));
    }
    let wallet = match get(value, "wallet") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(
            v.as_string()
                .ok_or_else(|| invalid("`creator.wallet` must be a wallet's uuid or rdns"))?,
        ),
    };
    Ok(Some((name, wallet)))
}

fn ensure_new(inner: &ClientInner, info_hash: &InfoHash) -> Result<(), JsError> {
    if inner.destroyed {
        return Err(fail("the client was destroyed"));
    }
    if inner.swarms.contains_key(&info_hash.to_hex()) {
        return Err(fail("this torrent is already added"));
    }
    Ok(())
}

/// The template for every torrent's engine (the session sets the peer id and a seed).
pub(super) fn engine_template() -> Config {
    Config {
        initial_pipeline: DATA_CHANNEL_INITIAL_PIPELINE,
        ..Config::default()
    }
}

/// The torrent's own trackers followed by the client's, without duplicates.
/// At most this many of a torrent's own trackers are kept (magnets can list hundreds).
const MAX_TORRENT_TRACKERS: usize = 32;

fn merged(own: &[String], inner: &ClientInner) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let configured = inner.session.pinned_trackers();
    let own = own
        .iter()
        .filter(|u| u.len() <= MAX_URL_CHARS)
        .take(MAX_TORRENT_TRACKERS);
    for url in own.chain(&configured) {
        if !all.contains(url) {
            all.push(url.clone());
        }
    }
    all
}

/// The `chain` option: absent is BitTorrent Chain mainnet; otherwise a preset name or a
/// chain object, validated by `Chain::from_json`.
fn parse_chain(value: &JsValue) -> Result<Chain, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Chain::bttc());
    }
    let json = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| fail("`chain` must be \"bttc\", \"donau\" or a chain object"))?;
    Chain::from_json(&json).map_err(|e| fail(format!("`chain`: {e}")))
}

fn chain_to_js(chain: &Chain) -> Result<JsValue, JsError> {
    js_sys::JSON::parse(&chain.to_json().to_string()).map_err(|_| fail("unreadable chain"))
}

/// The download path run once on a small in-memory transfer (`engine::warm_up`), so the
/// browser compiles it before the first real download. In steps of a few milliseconds: the
/// page module runs them in idle moments after loading the wasm (see `warmUpSoon`).
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct WarmUp(crate::engine::warm_up::LoopbackWarmUp);

#[wasm_bindgen]
impl WarmUp {
    #[wasm_bindgen(constructor)]
    pub fn new() -> WarmUp {
        WarmUp::default()
    }

    /// One step (at most 64 KiB of hashing, or of traffic each way); true once it is over.
    pub fn step(&mut self) -> bool {
        self.0.step()
    }
}

/// A chain preset by name (`bttc`, `donau`), as `ClientOptions.chain` takes it.
#[wasm_bindgen(js_name = chainPreset, unchecked_return_type = "Chain")]
pub fn chain_preset(name: &str) -> Result<JsValue, JsError> {
    let chain = Chain::preset(name)
        .ok_or_else(|| fail(format!("no chain preset `{name}` (bttc, donau)")))?;
    chain_to_js(&chain)
}

/// One torrent of a client. Stays valid after `remove()`, but then every call fails.
#[wasm_bindgen]
pub struct Torrent {
    client: Weak<RefCell<ClientInner>>,
    hex: String,
}

impl std::fmt::Debug for Torrent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Torrent")
            .field("info_hash", &self.hex)
            .finish()
    }
}

type TipStart = (TipRequest, Option<String>, Option<Function>);

/// `options[key]` of `tip()`/`publishToChannel()`: absent or null → `None`; not a string →
/// a `failed` error naming the key.
fn optional_string(options: &JsValue, key: &str) -> Result<Option<String>, TipError> {
    match get(options, key) {
        v if v.is_undefined() || v.is_null() => Ok(None),
        v => v.as_string().map(Some).ok_or_else(|| TipError {
            code: TipErrorCode::Failed,
            message: format!("`{key}` must be a string"),
        }),
    }
}
type PublishStart = (String, Option<String>, super::channels::Publish);

impl Torrent {
    /// Everything a tip needs, checked before any wallet is asked anything.
    fn tip_request(&self, amount: &JsValue, options: JsValue) -> Result<TipStart, TipError> {
        let unverified = |message: String| TipError {
            code: TipErrorCode::UnverifiedCreator,
            message,
        };
        let (creator, chain, info_hash, listed_by) = self
            .client
            .upgrade()
            .and_then(|rc| {
                let inner = rc.try_borrow().ok()?;
                let swarm = inner.swarms.get(&self.hex)?;
                let engine = inner.engine(&self.hex)?;
                let known = engine.info().is_some();
                Some((
                    known.then(|| swarm.creator(engine)),
                    inner.chain.clone(),
                    swarm.info_hash,
                    inner.channel_creators.get(&swarm.info_hash).copied(),
                ))
            })
            .ok_or_else(|| TipError {
                code: TipErrorCode::Failed,
                message: "this torrent was removed".into(),
            })?;
        let creator = match creator {
            None => {
                return Err(unverified(
                    "the creator is not known until the torrent's metadata arrives".into(),
                ));
            }
            // No record in the torrent: the creator whose verified channel (loaded in this
            // client) lists this work, if exactly one does.
            Some(None) => match listed_by {
                Some(Some(address)) => address,
                Some(None) => {
                    return Err(unverified(
                        "this torrent has no creator record and two channels list it".into(),
                    ));
                }
                None => return Err(unverified("this torrent has no creator record".into())),
            },
            Some(Some(c)) => c.tip_address().ok_or_else(|| {
                unverified(format!(
                    "the creator record does not verify ({}): tips are disabled",
                    c.reason.as_deref().unwrap_or("unverified")
                ))
            })?,
        };
        let recipient = creator;
        let amount = amount.as_string().ok_or_else(|| TipError {
            code: TipErrorCode::InvalidAmount,
            message: "give the amount as a decimal string of BTT, such as \"1.5\"".into(),
        })?;
        let amount_wei = parse_btt(&amount)?;
        let text = |key: &str| optional_string(&options, key);
        let wallet = text("wallet")?;
        let message = text("message")?;
        let on_stage = get(&options, "onStage").dyn_into::<Function>().ok();
        let request = TipRequest {
            chain,
            creator: recipient,
            info_hash,
            amount_wei,
            message,
        };
        Ok((request, wallet, on_stage))
    }

    /// A work from this torrent and the options of `publishToChannel`, checked first.
    fn publish_request(&self, options: &JsValue) -> Result<PublishStart, TipError> {
        let failed = |message: String| TipError {
            code: TipErrorCode::Failed,
            message,
        };
        let text = |key: &str| optional_string(options, key);
        let origin = super::channels::server_origin(text("server")?).map_err(failed)?;
        let (info_hash, name, trackers, record) = self
            .with(|e, s| {
                e.info().map(|info| {
                    (
                        s.info_hash,
                        info.name.clone(),
                        s.trackers.clone(),
                        s.creator(e),
                    )
                })
            })
            .map_err(|_| failed("this torrent was removed".into()))?
            .ok_or_else(|| failed("the torrent's metadata has not arrived yet".into()))?;
        let magnet = crate::channel::work_magnet(&Magnet {
            info_hash: InfoHash(info_hash),
            name: Some(name.clone()),
            trackers,
            web_seeds: vec![],
        });
        let title = text("title")?.unwrap_or_else(|| crate::channel::title_from_name(&name));
        let published = (js_sys::Date::now() / 1000.0).max(0.0) as u64;
        let work = crate::channel::Work {
            info_hash,
            magnet,
            title,
            poster: text("poster")?,
            published,
        };
        let publish = super::channels::Publish {
            work,
            name: text("name")?,
            record,
        };
        Ok((origin, text("wallet")?, publish))
    }

    fn with<R>(&self, f: impl FnOnce(&Engine, &Swarm) -> R) -> Result<R, JsError> {
        self.with_client(|inner| {
            let swarm = inner.swarms.get(&self.hex)?;
            Some(f(inner.engine(&self.hex)?, swarm))
        })
    }

    fn with_client<R>(&self, f: impl FnOnce(&ClientInner) -> Option<R>) -> Result<R, JsError> {
        let rc = self
            .client
            .upgrade()
            .ok_or_else(|| fail("the client was destroyed"))?;
        let inner = rc.try_borrow().map_err(|_| fail("the client is busy"))?;
        f(&inner).ok_or_else(|| fail("this torrent was removed"))
    }
}

#[wasm_bindgen]
impl Torrent {
    /// Hex info hash (40 characters).
    #[wasm_bindgen(getter, js_name = infoHash)]
    pub fn info_hash(&self) -> String {
        self.hex.clone()
    }

    /// The name from the metadata, or from the magnet link until the metadata arrives.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> Option<String> {
        self.with(|e, s| s.name(e)).ok().flatten()
    }

    #[wasm_bindgen(getter, js_name = magnetURI)]
    pub fn magnet_uri(&self) -> Result<String, JsError> {
        self.with(|e, s| {
            let magnet = Magnet {
                info_hash: InfoHash(s.info_hash),
                name: s.name(e),
                trackers: s.trackers.clone(),
                web_seeds: vec![],
            };
            magnet.to_uri()
        })
    }

    /// The .torrent file, once the metadata is known.
    #[wasm_bindgen(js_name = torrentFile)]
    pub fn torrent_file(&self) -> Result<Option<Vec<u8>>, JsError> {
        self.with(|e, s| {
            let (info, info_bytes) = (e.info()?.clone(), e.info_bytes()?.to_vec());
            let meta = Metainfo {
                info,
                info_hash: InfoHash(s.info_hash),
                info_bytes,
                trackers: s.trackers.iter().map(|t| vec![t.clone()]).collect(),
                web_seeds: Vec::new(),
                comment: None,
                created_by: None,
                creation_date: None,
                extra_fields: BTreeMap::new(),
            };
            Some(meta.to_bytes())
        })
    }

    #[wasm_bindgen(unchecked_return_type = "TorrentStats")]
    pub fn stats(&self) -> Result<JsValue, JsError> {
        self.with(files::stats)
    }

    #[wasm_bindgen(unchecked_return_type = "FileInfo[]")]
    pub fn files(&self) -> Result<JsValue, JsError> {
        self.with(files::files)
    }

    #[wasm_bindgen(unchecked_return_type = "PeerInfo[]")]
    pub fn peers(&self) -> Result<JsValue, JsError> {
        self.with_client(|inner| {
            let engine = inner.engine(&self.hex)?;
            let info_hash = inner.swarms.get(&self.hex)?.info_hash;
            Some(files::peers(engine, inner.session.open_conns(&info_hash)))
        })
    }

    /// One byte per piece: 1 = verified, 0 = not yet (empty before the metadata).
    pub fn pieces(&self) -> Result<Vec<u8>, JsError> {
        self.with(files::piece_map)
    }

    /// A finished file's content (read from storage).
    #[wasm_bindgen(js_name = fileBytes, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn file_bytes(&self, index: u32) -> Promise {
        let plan = self.with(|e, s| files::plan(e, s, index));
        wasm_bindgen_futures::future_to_promise(async move {
            let plan = plan
                .map_err(JsValue::from)?
                .map_err(|e| JsValue::from(fail(e)))?;
            files::bytes(plan)
                .await
                .map(JsValue::from)
                .map_err(|e| fail(e).into())
        })
    }

    /// A finished file as a `Blob` (e.g. for `URL.createObjectURL`); large files stay out
    /// of the page's memory (the browser keeps Blob data itself).
    #[wasm_bindgen(js_name = fileBlob, unchecked_return_type = "Promise<Blob>")]
    pub fn file_blob(&self, index: u32, mime: Option<String>) -> Promise {
        let plan = self.with(|e, s| files::plan(e, s, index));
        wasm_bindgen_futures::future_to_promise(async move {
            let plan = plan
                .map_err(JsValue::from)?
                .map_err(|e| JsValue::from(fail(e)))?;
            files::blob(plan, mime)
                .await
                .map(JsValue::from)
                .map_err(|e| fail(e).into())
        })
    }

    /// Reads file `fileIndex` from byte `start` to `end` (inclusive; default: the end of the
    /// file) as pieces arrive: the pieces just ahead of the reader are fetched first.
    /// Works before the metadata is known (reads wait for it). At most 8 streams per
    /// torrent: opening another closes the least recently used.
    #[wasm_bindgen(js_name = openStream)]
    pub fn open_stream(
        &self,
        #[wasm_bindgen(js_name = "fileIndex")] file_index: u32,
        start: f64,
        end: Option<f64>,
    ) -> Result<super::stream::FileStream, JsError> {
        let handle = super::client::Handle(self.client.clone());
        super::stream::open(handle, &self.hex, file_index, start, end).map_err(fail)
    }

    /// The creator record inside the torrent: `null` without one (or before the metadata).
    #[wasm_bindgen(getter, unchecked_return_type = "Creator | null")]
    pub fn creator(&self) -> Result<JsValue, JsError> {
        self.with(|e, s| s.creator(e).map_or(JsValue::NULL, |c| c.to_js()))
    }

    /// Tips the torrent's verified creator `amount` BTT (a decimal string) from a browser
    /// wallet; resolves once the transaction is confirmed (receipt status 1). A torrent with no
    /// creator record is tipped to the creator of the one verified channel (loaded with
    /// `client.channel`) that lists it. Rejects with an
    /// `Error` whose `code` says why (see the README): nothing is sent to an unverified
    /// creator, and amounts are never floats.
    #[wasm_bindgen(unchecked_return_type = "Promise<TipResult>")]
    pub fn tip(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] amount: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "TipOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> Promise {
        match self.tip_request(&amount, options.map_or(JsValue::UNDEFINED, JsValue::from)) {
            Err(e) => Promise::reject(&coded_error(&e)),
            Ok((request, choice, on_stage)) => {
                wasm_bindgen_futures::future_to_promise(async move {
                    let provider = wallet::provider(choice.as_deref())
                        .await
                        .map_err(|e| coded_error(&e))?;
                    let receipt = tip::run(provider, request, on_stage)
                        .await
                        .map_err(|e| coded_error(&e))?;
                    let out = js_sys::Object::new();
                    super::js_glue::set(&out, "txHash", receipt.tx_hash);
                    super::js_glue::set(&out, "amountWei", receipt.amount_wei.to_string());
                    super::js_glue::set(&out, "chainId", receipt.chain_id as f64);
                    Ok(out.into())
                })
            }
        }
    }

    /// Adds this torrent to the wallet account's channel (creating it), signed by the wallet
    /// (`eth_signTypedData_v4`) and uploaded to `server` (default: this page's origin).
    /// Needs the metadata; a torrent with a creator record can only join its creator's channel.
    /// Resolves with `{url, sequence, address}`; rejects like `tip()` (`no-wallet`,
    /// `rejected`, `failed`).
    #[wasm_bindgen(js_name = publishToChannel, unchecked_return_type = "Promise<PublishResult>")]
    pub fn publish_to_channel(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "PublishOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> Promise {
        let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
        let prepared = self.publish_request(&options);
        wasm_bindgen_futures::future_to_promise(async move {
            let (origin, choice, publish) = prepared.map_err(|e| coded_error(&e))?;
            let provider = wallet::provider(choice.as_deref())
                .await
                .map_err(|e| coded_error(&e))?;
            let (sequence, url) = super::channels::publish(&origin, &provider, publish)
                .await
                .map_err(|e| coded_error(&e))?;
            let out = js_sys::Object::new();
            super::js_glue::set(&out, "url", url.as_str());
            super::js_glue::set(&out, "sequence", sequence as f64);
            Ok(out.into())
        })
    }

    /// Stops this torrent: tells the trackers, closes its connections, frees its data.
    pub fn remove(&self) {
        if let Some(rc) = self.client.upgrade() {
            if let Ok(mut inner) = rc.try_borrow_mut() {
                inner.remove_swarm(&self.hex);
            }
        }
    }
}
