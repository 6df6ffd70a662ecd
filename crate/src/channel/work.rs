//! Making a work from a torrent: a magnet link and a title that fit the channel's bounds.

use super::{MAX_TITLE_BYTES, MAX_WORK_MAGNET_BYTES, Work};
use crate::creator::is_hidden_char;
use crate::magnet::Magnet;
use crate::metainfo::Metainfo;

impl Work {
    /// The work for `torrent`: its info hash, [`work_magnet`] of its magnet link, `title`
    /// (else [`title_from_name`] of the torrent's name), `poster` and `published` as given.
    /// The title and poster are not checked here; [`super::Channel::validate`] does.
    pub fn from_torrent(
        torrent: &Metainfo,
        title: Option<&str>,
        poster: Option<String>,
        published: u64,
    ) -> Work {
        Work {
            info_hash: torrent.info_hash.0,
            magnet: work_magnet(&torrent.magnet()),
            title: title.map_or_else(|| title_from_name(&torrent.info.name), str::to_owned),
            poster,
            published,
        }
    }
}

/// `magnet`'s canonical link, made to fit [`MAX_WORK_MAGNET_BYTES`]: web seeds are dropped
/// from the end first, then trackers, then the name; the info hash always stays.
pub fn work_magnet(magnet: &Magnet) -> String {
    let mut magnet = magnet.clone();
    loop {
        let uri = magnet.to_uri();
        if uri.len() <= MAX_WORK_MAGNET_BYTES {
            return uri;
        }
        if magnet.web_seeds.pop().is_none() && magnet.trackers.pop().is_none() {
            // Only the name is left to drop; `xt` alone is 60 bytes.
            magnet.name = None;
        }
    }
}

/// A title from a torrent's name: characters that could disguise it dropped, cut to
/// [`MAX_TITLE_BYTES`] on a character boundary, and "Untitled" if nothing is left.
pub fn title_from_name(name: &str) -> String {
    let mut title = String::new();
    for c in name.chars().filter(|&c| !is_hidden_char(c)) {
        if title.len() + c.len_utf8() > MAX_TITLE_BYTES {
            break;
        }
        title.push(c);
    }
    let title = title.trim();
    if title.is_empty() {
        "Untitled".into()
    } else {
        title.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::InfoHash;

    #[test]
    fn magnets_are_fitted_dropping_web_seeds_then_trackers_then_the_name() {
        let hash = InfoHash([0xab; 20]);
        let long = |n: usize| format!("wss://tracker-{n}.example/{}", "x".repeat(100));
        let mut magnet = Magnet {
            info_hash: hash,
            name: Some("film.webm".into()),
            trackers: (0..5).map(long).collect(),
            web_seeds: vec!["https://cdn.example/film.webm".into()],
        };
        assert_eq!(work_magnet(&magnet), magnet.to_uri(), "fits as is");
        magnet.trackers = (0..30).map(long).collect();
        let fitted = Magnet::parse(&work_magnet(&magnet)).unwrap();
        assert!(work_magnet(&magnet).len() <= MAX_WORK_MAGNET_BYTES);
        assert!(fitted.web_seeds.is_empty());
        assert!(!fitted.trackers.is_empty());
        assert_eq!(
            fitted.trackers[..],
            magnet.trackers[..fitted.trackers.len()],
            "first tiers kept"
        );
        assert_eq!(fitted.name.as_deref(), Some("film.webm"));
        magnet.name = Some("n".repeat(5000));
        let fitted = Magnet::parse(&work_magnet(&magnet)).unwrap();
        assert_eq!((fitted.info_hash, fitted.name), (hash, None));
    }

    #[test]
    fn titles_from_names_are_displayable_and_bounded() {
        assert_eq!(title_from_name("My film.webm"), "My film.webm");
        assert_eq!(title_from_name("a\u{202E}b\nc"), "abc");
        assert_eq!(title_from_name(" \u{7} "), "Untitled");
        let long = title_from_name(&"é".repeat(150));
        assert_eq!(long.len(), MAX_TITLE_BYTES);
        assert!(long.chars().all(|c| c == 'é'));
    }
}
