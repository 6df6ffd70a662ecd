//! Web seeds (BEP 19), sans-IO: which HTTP range requests to make, and what their answers do.
//!
//! One [`WebSeeds`] per torrent. The driver (browser `fetch`, native HTTP client) loops:
//! [`WebSeeds::poll_request`] until `None`, performs each [`WebSeedRequest`] (a GET with
//! `Range: bytes=…`, reading at most `max_body` bytes), then reports
//! [`WebSeeds::handle_response`] or [`WebSeeds::handle_failed`]; and calls
//! [`WebSeeds::handle_timeout`] at [`WebSeeds::poll_timeout`]. Events (a seed dropped or
//! backing off) come from [`WebSeeds::poll_event`].
//!
//! A request fetches part of a *job*: a run of contiguous pieces claimed from the engine
//! ([`Torrent::webseed_claim`]), so peers never download the same pieces. A run that spans
//! files is one request per file, made one after another. When every part is in, each piece
//! goes to [`Torrent::webseed_piece`] (hash-checked); a seed that served a bad piece is
//! dropped. Failures back a seed off (honouring `Retry-After`), and too many drop it.
//!
//! When: web seeds are used while no peer is connected, or while the peers are *slow*: their
//! combined download rate stayed under [`SLOW_PEERS_BYTES_PER_S`] for [`SLOW_FOR`]. Jobs
//! already started always finish.

mod http;
mod plan;
mod url;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use crate::engine::rate::RateMeter;
use crate::engine::{Torrent, WebSeedPieceError};
use crate::metainfo::{Info, piece_size};

pub use http::{
    ContentRange, MAX_HEADER_BYTES, MAX_RETRY_AFTER, parse_content_range, parse_retry_after,
};
pub use plan::{Part, parts, run_bytes};
pub use url::{WebSeedUrlError, encode_segment, file_url, is_multi_file, validate};

/// Web seeds kept per torrent (further URLs are ignored). Each may hold requests and
/// buffers; a handful is plenty (libtorrent uses 3 at once).
pub const MAX_WEB_SEEDS: usize = 4;
/// Requests in flight per torrent, over all its web seeds. With [`RUN_BYTES`] this bounds the
/// memory a tab spends on web seed buffers: 3 × 4 MiB (libtorrent: 5 × 16 MiB, too much for
/// a tab that also holds peers' pieces).
pub const MAX_REQUESTS_IN_FLIGHT: usize = 3;
/// Requests in flight to one web seed: two keep its pipe busy between answers.
pub const MAX_REQUESTS_PER_SEED: usize = 2;
/// Bytes claimed per job (at least one piece): large contiguous ranges are what HTTP servers
/// serve best, small enough that a tab holds a few at once.
pub const RUN_BYTES: u64 = 4 * 1024 * 1024;
/// A server that answers a range request with 200 (the whole file) is still usable when the
/// file is this small: reading it whole costs little. Larger: the seed is dropped.
pub const WHOLE_FILE_MAX: u64 = 1024 * 1024;
/// A request not answered in this time fails (the driver should abort it then too). At
/// [`RUN_BYTES`] that is ≥ ~90 KiB/s; slower seeds are not worth their claims.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);
/// Backoff after the first failure, doubled per consecutive failure up to [`MAX_BACKOFF`].
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// Consecutive failures after which a seed is dropped for good.
pub const MAX_FAILURES: u32 = 5;
/// Peers downloading slower than this (bytes/s, all together) count as slow …
pub const SLOW_PEERS_BYTES_PER_S: f64 = 256.0 * 1024.0;
/// … once they have been slow for this long (a new peer's rate starts at zero).
pub const SLOW_FOR: Duration = Duration::from_secs(5);
/// How often the "are peers slow" question is asked again while web seeds wait, and how often
/// the seeds' download rates are updated while they transfer.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Identifies a web seed of one torrent (its index; never reused).
pub type SeedId = usize;
/// Identifies one HTTP request; unique for the [`WebSeeds`]' lifetime.
pub type RequestId = u64;

/// An HTTP GET to make: `Range: bytes={range.start}-{range.end - 1}` (see
/// [`WebSeedRequest::range_header`]); read at most `max_body` bytes of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSeedRequest {
    pub id: RequestId,
    pub seed: SeedId,
    pub url: String,
    /// Bytes of the file, end exclusive (never empty).
    pub range: Range<u64>,
    /// The most body bytes to read: what was asked (or a small whole file, see
    /// [`WHOLE_FILE_MAX`]) plus one, so that a server sending more is caught.
    pub max_body: usize,
}

impl WebSeedRequest {
    pub fn range_header(&self) -> String {
        format!("bytes={}-{}", self.range.start, self.range.end - 1)
    }
}

/// What the server answered (after redirects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSeedResponse {
    pub status: u16,
    pub content_range: Option<String>,
    pub retry_after: Option<String>,
    /// At most the request's `max_body` bytes.
    pub body: Vec<u8>,
}

/// Something the driver shows or logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSeedEvent {
    /// The seed is no longer used (bad data, no range support, too many failures).
    Dropped {
        seed: SeedId,
        url: String,
        reason: String,
    },
    /// A request failed; the seed waits until `until` before the next one.
    Backoff {
        seed: SeedId,
        url: String,
        reason: String,
        until: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedState {
    /// Usable (requests may be in flight: see [`WebSeedStats::in_flight`]).
    Ready,
    Backoff {
        until: Duration,
    },
    Dropped {
        reason: String,
    },
}

/// One web seed, for stats displays.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSeedStats {
    pub seed: SeedId,
    pub url: String,
    pub state: SeedState,
    /// Payload bytes received from it (before hash checks).
    pub downloaded: u64,
    /// Bytes per second (moving average, updated every [`CHECK_INTERVAL`]).
    pub download_rate: f64,
    pub in_flight: usize,
}

#[derive(Debug)]
struct Seed {
    url: String,
    state: SeedState,
    failures: u32,
    downloaded: u64,
    rate: RateMeter,
}

/// A claimed run being fetched by one seed.
#[derive(Debug)]
struct Job {
    seed: SeedId,
    pieces: Range<u32>,
    parts: Vec<Part>,
    /// Parts before this one are in `buf`.
    next: usize,
    /// The run's bytes (pad parts stay zero). Bounded: `RUN_BYTES` or one piece.
    buf: Vec<u8>,
    /// The request in flight for `parts[next]` and when it times out.
    request: Option<(RequestId, Duration)>,
}

#[derive(Debug, Default)]
pub struct WebSeeds {
    seeds: Vec<Seed>,
    jobs: Vec<Job>,
    events: VecDeque<WebSeedEvent>,
    next_id: RequestId,
    slow_since: Option<Duration>,
    next_check: Option<Duration>,
    /// When the rates were last updated, and whether bytes came since.
    rates_at: Duration,
    unticked: bool,
}

impl WebSeeds {
    pub fn new() -> WebSeeds {
        WebSeeds::default()
    }

    /// Adds a web seed (a torrent's `url-list` entry or a magnet's `ws=`; untrusted). A
    /// duplicate returns the existing id; past [`MAX_WEB_SEEDS`] it is refused.
    pub fn add(&mut self, url: &str) -> Result<SeedId, WebSeedUrlError> {
        validate(url)?;
        if let Some(i) = self.seeds.iter().position(|s| s.url == url) {
            return Ok(i);
        }
        if self.seeds.len() >= MAX_WEB_SEEDS {
            return Err(WebSeedUrlError::TooMany);
        }
        self.seeds.push(Seed {
            url: url.to_string(),
            state: SeedState::Ready,
            failures: 0,
            downloaded: 0,
            rate: RateMeter::default(),
        });
        Ok(self.seeds.len() - 1)
    }

    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }

    pub fn stats(&self) -> Vec<WebSeedStats> {
        self.seeds
            .iter()
            .enumerate()
            .map(|(i, s)| WebSeedStats {
                seed: i,
                url: s.url.clone(),
                state: s.state.clone(),
                downloaded: s.downloaded,
                download_rate: rate_of(s),
                in_flight: self.in_flight_for(i),
            })
            .collect()
    }

    pub fn poll_event(&mut self) -> Option<WebSeedEvent> {
        self.events.pop_front()
    }

    /// When to call [`WebSeeds::handle_timeout`]: a request's deadline, the end of a backoff,
    /// or the next "are peers slow" check.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let deadlines = self.jobs.iter().filter_map(|j| j.request.map(|r| r.1));
        let backoffs = self.seeds.iter().filter_map(|s| match s.state {
            SeedState::Backoff { until } => Some(until),
            _ => None,
        });
        // Rates settle back to zero after a transfer, then stop asking for ticks.
        let measuring =
            !self.jobs.is_empty() || self.unticked || self.seeds.iter().any(|s| rate_of(s) > 0.0);
        let rates = measuring.then_some(self.rates_at + CHECK_INTERVAL);
        deadlines
            .chain(backoffs)
            .chain(self.next_check)
            .chain(rates)
            .min()
    }

    /// Sum of the seeds' download rates (bytes/s), e.g. to add to the peers' rate.
    pub fn download_rate(&self) -> f64 {
        self.seeds.iter().map(rate_of).sum()
    }

    /// Fails requests past their deadline and ends backoffs. Call [`WebSeeds::poll_request`]
    /// afterwards.
    pub fn handle_timeout(&mut self, torrent: &mut Torrent, now: Duration) {
        let expired: Vec<RequestId> = self
            .jobs
            .iter()
            .filter_map(|j| j.request.filter(|r| r.1 <= now).map(|r| r.0))
            .collect();
        for id in expired {
            self.handle_failed(torrent, id, "timed out", now);
        }
        for s in &mut self.seeds {
            if matches!(s.state, SeedState::Backoff { until } if until <= now) {
                s.state = SeedState::Ready;
            }
        }
        if self.next_check.is_some_and(|t| t <= now) {
            self.next_check = None;
        }
        let elapsed = now.saturating_sub(self.rates_at);
        if elapsed >= CHECK_INTERVAL {
            self.rates_at = now;
            self.unticked = false;
            for s in &mut self.seeds {
                s.rate.tick(elapsed);
            }
        }
    }

    /// The next request to make, if any.
    pub fn poll_request(&mut self, torrent: &mut Torrent, now: Duration) -> Option<WebSeedRequest> {
        torrent.info()?;
        if self.in_flight() >= MAX_REQUESTS_IN_FLIGHT {
            return None;
        }
        // Jobs under way come first: their claims keep peers away from those pieces.
        if let Some(j) = self.jobs.iter().position(|j| j.request.is_none()) {
            return self.issue(j, torrent.info()?, now);
        }
        if torrent.is_complete() || !self.wanted(torrent, now) {
            return None;
        }
        let seed = self.pick_seed(now)?;
        let pieces = torrent.webseed_claim(RUN_BYTES, now)?;
        let info = torrent.info()?;
        let bytes = run_bytes(info, &pieces);
        let mut job = Job {
            seed,
            parts: parts(info, &pieces),
            pieces,
            next: 0,
            // Fits: a run is at most RUN_BYTES or one piece.
            buf: vec![0; (bytes.end - bytes.start) as usize],
            request: None,
        };
        skip_padding(&mut job);
        if job.next == job.parts.len() {
            // Nothing but padding: zeros, no request needed.
            self.deliver(torrent, job, now);
            return self.poll_request(torrent, now);
        }
        self.jobs.push(job);
        self.issue(self.jobs.len() - 1, torrent.info()?, now)
    }

    /// The server answered request `id` (any status).
    pub fn handle_response(
        &mut self,
        torrent: &mut Torrent,
        id: RequestId,
        response: WebSeedResponse,
        now: Duration,
    ) {
        let Some(j) = self.job_of(id) else { return };
        let job = &self.jobs[j];
        let part = job.parts[job.next].clone();
        let seed = job.seed;
        let Some(file_len) = torrent.info().map(|i| i.files[part.file].length) else {
            return;
        };
        let body = match check_response(&part.range, file_len, response) {
            Ok(body) => body,
            Err(Verdict::Retry {
                reason,
                retry_after,
            }) => {
                self.abandon(torrent, j, now);
                self.fail(seed, reason, retry_after, now);
                return;
            }
            Err(Verdict::Drop(reason)) => {
                self.abandon(torrent, j, now);
                self.drop_seed(torrent, seed, reason, now);
                return;
            }
        };
        self.seeds[seed].downloaded += body.len() as u64;
        self.seeds[seed].rate.add(body.len() as u64);
        self.unticked = true;
        self.seeds[seed].failures = 0;
        let job = &mut self.jobs[j];
        job.buf[part.offset..part.offset + body.len()].copy_from_slice(&body);
        job.next += 1;
        job.request = None;
        skip_padding(job);
        if job.next == job.parts.len() {
            let job = self.jobs.swap_remove(j);
            self.deliver(torrent, job, now);
        }
    }

    /// Request `id` failed without an answer (network error, CORS refusal, abort).
    pub fn handle_failed(
        &mut self,
        torrent: &mut Torrent,
        id: RequestId,
        reason: &str,
        now: Duration,
    ) {
        let Some(j) = self.job_of(id) else { return };
        let seed = self.jobs[j].seed;
        self.abandon(torrent, j, now);
        self.fail(seed, reason.to_string(), None, now);
    }

    // ---- internals ----------------------------------------------------------------------

    fn in_flight(&self) -> usize {
        self.jobs.iter().filter(|j| j.request.is_some()).count()
    }

    fn in_flight_for(&self, seed: SeedId) -> usize {
        self.jobs
            .iter()
            .filter(|j| j.seed == seed && j.request.is_some())
            .count()
    }

    fn job_of(&self, id: RequestId) -> Option<usize> {
        self.jobs
            .iter()
            .position(|j| j.request.is_some_and(|r| r.0 == id))
    }

    /// No peers, or peers slow for [`SLOW_FOR`] (see the module notes).
    fn wanted(&mut self, torrent: &Torrent, now: Duration) -> bool {
        if self
            .seeds
            .iter()
            .all(|s| matches!(s.state, SeedState::Dropped { .. }))
        {
            return false;
        }
        let stats = torrent.stats();
        if stats.peers == 0 {
            return true;
        }
        if stats.download_rate >= SLOW_PEERS_BYTES_PER_S {
            self.slow_since = None;
            self.next_check = Some(now + CHECK_INTERVAL);
            return false;
        }
        let since = *self.slow_since.get_or_insert(now);
        if now.saturating_sub(since) >= SLOW_FOR {
            return true;
        }
        self.next_check = Some((since + SLOW_FOR).min(now + CHECK_INTERVAL));
        false
    }

    /// The ready seed with the fewest jobs, if one may take another.
    fn pick_seed(&self, now: Duration) -> Option<SeedId> {
        (0..self.seeds.len())
            .filter(|&i| match self.seeds[i].state {
                SeedState::Ready => true,
                SeedState::Backoff { until } => until <= now,
                SeedState::Dropped { .. } => false,
            })
            .map(|i| (self.jobs.iter().filter(|j| j.seed == i).count(), i))
            .filter(|&(n, _)| n < MAX_REQUESTS_PER_SEED)
            .min()
            .map(|(_, i)| i)
    }

    fn issue(&mut self, j: usize, info: &Info, now: Duration) -> Option<WebSeedRequest> {
        let id = self.next_id;
        self.next_id += 1;
        let job = &mut self.jobs[j];
        let part = &job.parts[job.next];
        let url = file_url(&self.seeds[job.seed].url, info, part.file)?;
        let asked = part.range.end - part.range.start;
        let file_len = info.files[part.file].length;
        let allowed = if file_len <= WHOLE_FILE_MAX {
            asked.max(file_len)
        } else {
            asked
        };
        job.request = Some((id, now + REQUEST_TIMEOUT));
        Some(WebSeedRequest {
            id,
            seed: job.seed,
            url,
            range: part.range.clone(),
            // Fits: at most RUN_BYTES, one piece or WHOLE_FILE_MAX.
            max_body: allowed as usize + 1,
        })
    }

    /// Hands every piece of a finished job to the engine; a bad one drops the seed.
    fn deliver(&mut self, torrent: &mut Torrent, job: Job, now: Duration) {
        let Some((piece_length, total)) = torrent.info().map(|i| (i.piece_length, i.total_length))
        else {
            return;
        };
        let mut offset = 0usize;
        let mut bad = None;
        for index in job.pieces.clone() {
            let size = piece_size(piece_length, total, index) as usize;
            let piece = &job.buf[offset..offset + size];
            offset += size;
            match torrent.webseed_piece(index, piece, now) {
                Ok(()) | Err(WebSeedPieceError::Storage { .. }) => {}
                Err(e) => bad = bad.or(Some(e)),
            }
        }
        if let Some(e) = bad {
            self.drop_seed(torrent, job.seed, format!("served bad data: {e}"), now);
        }
    }

    /// Forgets job `j`, releasing the claims of its pieces.
    fn abandon(&mut self, torrent: &mut Torrent, j: usize, now: Duration) {
        let job = self.jobs.swap_remove(j);
        torrent.webseed_release(job.pieces, now);
    }

    fn fail(&mut self, seed: SeedId, reason: String, retry_after: Option<Duration>, now: Duration) {
        let s = &mut self.seeds[seed];
        if matches!(s.state, SeedState::Dropped { .. }) {
            return;
        }
        s.failures += 1;
        if s.failures >= MAX_FAILURES {
            let reason = format!("{} failures in a row, last: {reason}", s.failures);
            self.mark_dropped(seed, reason);
            return;
        }
        let backoff = BACKOFF_BASE
            .saturating_mul(1 << (s.failures - 1).min(16))
            .min(MAX_BACKOFF);
        let until = now + retry_after.unwrap_or(backoff);
        s.state = SeedState::Backoff { until };
        self.events.push_back(WebSeedEvent::Backoff {
            seed,
            url: s.url.clone(),
            reason,
            until,
        });
    }

    /// Marks `seed` dropped for good and says so (once: callers check it was not dropped).
    fn mark_dropped(&mut self, seed: SeedId, reason: String) {
        let s = &mut self.seeds[seed];
        s.state = SeedState::Dropped {
            reason: reason.clone(),
        };
        self.events.push_back(WebSeedEvent::Dropped {
            seed,
            url: s.url.clone(),
            reason,
        });
    }

    fn drop_seed(&mut self, torrent: &mut Torrent, seed: SeedId, reason: String, now: Duration) {
        if matches!(self.seeds[seed].state, SeedState::Dropped { .. }) {
            return;
        }
        self.mark_dropped(seed, reason);
        while let Some(j) = self.jobs.iter().position(|j| j.seed == seed) {
            self.abandon(torrent, j, now);
        }
    }
}

/// A seed's rate; the moving average only decays towards zero, so under a byte a second is zero.
fn rate_of(s: &Seed) -> f64 {
    let rate = s.rate.rate();
    if rate < 1.0 { 0.0 } else { rate }
}

/// Moves a job past pad parts (zeros, already in its buffer).
fn skip_padding(job: &mut Job) {
    while job.next < job.parts.len() && job.parts[job.next].padding {
        job.next += 1;
    }
}

enum Verdict {
    /// The seed may work later: back off.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The seed cannot serve this torrent correctly.
    Drop(String),
}

/// Judges one answer to a request for `range` of a file of `file_len` bytes; returns exactly
/// the bytes of `range`.
fn check_response(
    range: &Range<u64>,
    file_len: u64,
    r: WebSeedResponse,
) -> Result<Vec<u8>, Verdict> {
    let asked = range.end - range.start;
    match r.status {
        206 => {
            if let Some(value) = &r.content_range {
                let Some(cr) = parse_content_range(value) else {
                    return Err(Verdict::Drop(format!("bad Content-Range: {value:.80}")));
                };
                if cr.first != range.start
                    || cr.last + 1 != range.end
                    || cr.total.is_some_and(|t| t != file_len)
                {
                    return Err(Verdict::Drop(format!(
                        "answered bytes {}-{} for {}-{}",
                        cr.first,
                        cr.last,
                        range.start,
                        range.end - 1
                    )));
                }
            }
            // Without Content-Range (a CORS server that does not expose it) the length and
            // then the hash check decide.
            if r.body.len() as u64 != asked {
                return Err(Verdict::Retry {
                    reason: format!("{} bytes for a range of {asked}", r.body.len()),
                    retry_after: None,
                });
            }
            Ok(r.body)
        }
        200 => {
            // The server ignored Range and sent the whole file: usable only if it is small
            // and arrived whole.
            if file_len <= WHOLE_FILE_MAX && r.body.len() as u64 == file_len {
                let mut body = r.body;
                body.truncate(range.end as usize);
                body.drain(..range.start as usize);
                return Ok(body);
            }
            Err(Verdict::Drop(
                "does not support range requests (answered 200 with the whole file)".into(),
            ))
        }
        s => Err(Verdict::Retry {
            reason: format!("HTTP {s}"),
            retry_after: r.retry_after.as_deref().and_then(parse_retry_after),
        }),
    }
}
