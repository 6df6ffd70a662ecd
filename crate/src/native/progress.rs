//! Progress on STDERR (stdout carries only the magnet line): on a terminal one indicatif bar
//! per torrent — verified bytes of total, download and upload rates, peers, ETA — and logs
//! printed above the bars without tearing them; off a terminal, one plain line per torrent
//! every [`PLAIN_INTERVAL`] and logs as plain lines.
//!
//! Whether stderr (where the bars are drawn) is a terminal decides, so `seedcast seed X |
//! head -1` still shows bars while the magnet goes down the pipe.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Torrent, TorrentStats};
use crate::session::webseed::{SeedState, WebSeeds};

/// Plain lines are for logs and CI output: often enough to see it move, rarely enough to read.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(5);
/// Bars redraw at most this often (indicatif's own limit would be 20 Hz).
const BAR_REFRESH_HZ: u8 = 4;

/// What one torrent looks like right now.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// Untrusted (it comes from the torrent): control characters are shown as `?`.
    pub name: &'a str,
    pub stats: &'a TorrentStats,
    /// `None` until a magnet's metadata is known.
    pub total_length: Option<u64>,
    pub piece_length: Option<u32>,
    /// Web seeds usable now, and what they all bring in (bytes/s): a download from web seeds
    /// alone has no peers and no peer rate, and must not look stalled.
    pub web_seeds: usize,
    pub web_rate: f64,
}

impl View<'_> {
    /// Verified bytes: whole pieces, the short last piece counted full (off by less than one
    /// piece until completion, exact then).
    pub fn verified_bytes(&self) -> u64 {
        let (Some(total), Some(piece)) = (self.total_length, self.piece_length) else {
            return 0;
        };
        if self.stats.complete {
            return total;
        }
        (u64::from(self.stats.pieces_verified) * u64::from(piece)).min(total)
    }
}

#[derive(Debug)]
enum Mode {
    Bars(MultiProgress),
    Plain,
}

#[derive(Debug)]
struct Line {
    bar: Option<ProgressBar>,
    last_plain: Option<Instant>,
}

/// The display for all torrents of the process. Handles from [`Progress::add`] index it.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    lines: Vec<Line>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Bars if stderr is a terminal, else plain lines.
    pub fn new() -> Progress {
        Self::with_bars(std::io::stderr().is_terminal())
    }

    pub fn with_bars(bars: bool) -> Progress {
        let mode = match bars {
            true => Mode::Bars(MultiProgress::with_draw_target(
                ProgressDrawTarget::stderr_with_hz(BAR_REFRESH_HZ),
            )),
            false => Mode::Plain,
        };
        Progress {
            mode,
            lines: Vec::new(),
        }
    }

    /// A line for a new torrent; returns its handle.
    pub fn add(&mut self) -> usize {
        let bar = match &self.mode {
            Mode::Bars(multi) => {
                let bar = multi.add(ProgressBar::new(0));
                let style = ProgressStyle::with_template(
                    "{prefix:.bold} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> ");
                bar.set_style(style);
                Some(bar)
            }
            Mode::Plain => None,
        };
        self.lines.push(Line {
            bar,
            last_plain: None,
        });
        self.lines.len() - 1
    }

    /// Shows `view` on line `handle`: the bar at once, a plain line if the last one is
    /// `PLAIN_INTERVAL` old.
    pub fn update(&mut self, handle: usize, view: &View<'_>, now: Instant) {
        let Some(line) = self.lines.get_mut(handle) else {
            return;
        };
        match &line.bar {
            Some(bar) => {
                bar.set_prefix(printable(view.name));
                bar.set_length(view.total_length.unwrap_or(0));
                bar.set_position(view.verified_bytes());
                bar.set_message(status(view));
            }
            None => {
                let due = line
                    .last_plain
                    .is_none_or(|last| now.duration_since(last) >= PLAIN_INTERVAL);
                if due {
                    line.last_plain = Some(now);
                    eprintln!("{}", plain_line(view));
                }
            }
        }
    }

    /// Shows `engine` (and its web seeds) on line `handle`; `name` is shown until the metadata
    /// gives the real one.
    pub fn show(
        &mut self,
        handle: usize,
        name: &str,
        engine: &Torrent,
        web_seeds: Option<&WebSeeds>,
        now: Instant,
    ) {
        let stats = engine.stats();
        let info = engine.info();
        let view = View {
            name: info.map_or(name, |i| i.name.as_str()),
            stats: &stats,
            total_length: info.map(|i| i.total_length),
            piece_length: info.map(|i| i.piece_length),
            web_seeds: web_seeds.map_or(0, |w| {
                w.stats()
                    .iter()
                    .filter(|s| s.state == SeedState::Ready)
                    .count()
            }),
            web_rate: web_seeds.map_or(0.0, WebSeeds::download_rate),
        };
        self.update(handle, &view, now);
    }

    /// Prints `text` (one line) above the bars, or as a plain line.
    pub fn log(&self, text: &str) {
        let text = printable(text);
        match &self.mode {
            Mode::Bars(multi) => {
                if multi.println(&text).is_err() {
                    eprintln!("{text}");
                }
            }
            Mode::Plain => eprintln!("{text}"),
        }
    }

    /// Leaves the bars as they are on screen (at exit).
    pub fn finish(&mut self) {
        for line in &self.lines {
            if let Some(bar) = &line.bar {
                bar.abandon();
            }
        }
    }
}

/// The plain line: `NAME: 45.0% of 26.5 MiB, down 1.2 MiB/s, up 300.0 KiB/s, 3 peers, ETA 12s`.
pub fn plain_line(view: &View<'_>) -> String {
    let name = printable(view.name);
    match view.total_length {
        None => format!("{name}: {}", status(view)),
        Some(total) => {
            let percent = view.verified_bytes() as f64 * 100.0 / total.max(1) as f64;
            format!(
                "{name}: {percent:.1}% of {}, {}",
                human_size(total),
                status(view)
            )
        }
    }
}

/// Rates, peers and what comes next (ETA, seeding, or waiting for metadata).
fn status(view: &View<'_>) -> String {
    let s = view.stats;
    let down = s.download_rate + view.web_rate;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut rates = format!(
        "down {}/s, up {}/s, {} peer{}",
        human_size(down as u64),
        human_size(s.upload_rate as u64),
        s.peers,
        plural(s.peers)
    );
    if view.web_seeds > 0 {
        rates += &format!(" + {} web seed{}", view.web_seeds, plural(view.web_seeds));
    }
    let Some(total) = view.total_length else {
        return format!("fetching metadata, {rates}");
    };
    if s.complete {
        return format!("seeding, {rates}");
    }
    let remaining = total - view.verified_bytes();
    match eta(remaining, down) {
        Some(eta) => format!("{rates}, ETA {}", human_duration(eta)),
        None => format!("{rates}, ETA unknown"),
    }
}

/// Time left at `rate` bytes/s; `None` when nothing is arriving.
pub fn eta(remaining: u64, rate: f64) -> Option<Duration> {
    (rate >= 1.0).then(|| Duration::from_secs((remaining as f64 / rate).ceil() as u64))
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `bytes` for people: `512 B`, `1.5 MiB`, … (also the CLI's `info`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Control characters (escape sequences, newlines) from a torrent or peer become `?`, so
/// nothing can rewrite the screen or forge lines (also the CLI's `info`).
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(verified: u32, down: f64, up: f64, peers: usize, complete: bool) -> TorrentStats {
        TorrentStats {
            num_pieces: 100,
            pieces_verified: verified,
            download_rate: down,
            upload_rate: up,
            peers,
            complete,
            has_metadata: true,
            ..TorrentStats::default()
        }
    }

    fn view<'a>(name: &'a str, stats: &'a TorrentStats, total: Option<u64>) -> View<'a> {
        View {
            name,
            stats,
            total_length: total,
            piece_length: Some(1 << 20),
            web_seeds: 0,
            web_rate: 0.0,
        }
    }

    #[test]
    fn a_download_from_web_seeds_alone_shows_their_rate_and_an_eta() {
        let s = stats(50, 0.0, 0.0, 0, false);
        let mut v = view("a", &s, Some(100 << 20));
        v.web_seeds = 1;
        v.web_rate = 2.0 * 1048576.0;
        assert_eq!(
            plain_line(&v),
            "a: 50.0% of 100.0 MiB, down 2.0 MiB/s, up 0 B/s, 0 peers + 1 web seed, ETA 25s"
        );
    }

    #[test]
    fn a_download_in_progress_shows_share_rates_peers_and_eta() {
        let s = stats(25, 1.5 * 1048576.0, 300.0 * 1024.0, 3, false);
        let line = plain_line(&view("movie.mkv", &s, Some(100 << 20)));
        assert_eq!(
            line,
            "movie.mkv: 25.0% of 100.0 MiB, down 1.5 MiB/s, up 300.0 KiB/s, 3 peers, ETA 50s"
        );
    }

    #[test]
    fn stalled_finished_and_metadata_less_torrents_say_so() {
        let s = stats(10, 0.0, 0.0, 1, false);
        assert!(plain_line(&view("a", &s, Some(100 << 20))).ends_with("1 peer, ETA unknown"));
        let done = stats(100, 0.0, 2048.0, 2, true);
        assert_eq!(
            plain_line(&view("a", &done, Some((99 << 20) + 5))),
            "a: 100.0% of 99.0 MiB, seeding, down 0 B/s, up 2.0 KiB/s, 2 peers"
        );
        let s = stats(0, 0.0, 0.0, 0, false);
        assert_eq!(
            plain_line(&view("magnet", &s, None)),
            "magnet: fetching metadata, down 0 B/s, up 0 B/s, 0 peers"
        );
    }

    #[test]
    fn a_hostile_name_cannot_move_the_cursor_or_forge_lines() {
        let s = stats(0, 0.0, 0.0, 0, false);
        let line = plain_line(&view("x\x1b[2J\nerror: fake", &s, None));
        assert!(line.starts_with("x?[2J?error: fake: "), "{line}");
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn eta_is_remaining_over_rate_and_long_ones_read_well() {
        assert_eq!(eta(1000, 100.0), Some(Duration::from_secs(10)));
        assert_eq!(eta(1000, 0.0), None);
        assert_eq!(human_duration(Duration::from_secs(3725)), "1h02m");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m05s");
    }

    #[test]
    fn plain_lines_are_printed_at_most_every_interval() {
        let mut progress = Progress::with_bars(false);
        let handle = progress.add();
        let s = stats(0, 0.0, 0.0, 0, false);
        let start = Instant::now();
        progress.update(handle, &view("a", &s, None), start);
        assert_eq!(progress.lines[handle].last_plain, Some(start));
        progress.update(handle, &view("a", &s, None), start + Duration::from_secs(1));
        assert_eq!(progress.lines[handle].last_plain, Some(start), "too soon");
        let later = start + PLAIN_INTERVAL;
        progress.update(handle, &view("a", &s, None), later);
        assert_eq!(progress.lines[handle].last_plain, Some(later));
    }
}
