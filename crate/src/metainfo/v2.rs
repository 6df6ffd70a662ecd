//! Hybrid v1/v2 torrents (BEP 52) describe their files twice: the v1 `files` (or `length`)
//! and the v2 `file tree`. We download by v1 alone, but a torrent whose two descriptions
//! disagree is broken (its v2 swarm holds other data), so it is refused, as libtorrent does.
//!
//! Compared, as libtorrent compares them: the files that carry data (neither pad files nor
//! empty files), in order, by sanitized path and length.

use super::error::MetainfoError;
use super::info::FileEntry;
use super::path::sanitize_component;
use crate::bencode::{Dict, Value};

/// Refuses a hybrid `info` (`meta version` 2 with a `file tree`) whose tree disagrees with the
/// v1 files `v1` (sanitized, not yet renamed). Anything else passes: a v1 torrent's stray
/// `file tree` is not ours to judge.
pub(super) fn check_hybrid(
    info: &Value<'_>,
    v1: &[FileEntry],
    name: &str,
) -> Result<(), MetainfoError> {
    let hybrid = info.get("meta version").and_then(Value::as_int) == Some(2);
    let Some(tree) = info.get("file tree").filter(|_| hybrid) else {
        return Ok(());
    };
    let tree = tree.as_dict().ok_or(malformed())?;
    // As libtorrent: in a single-file torrent (no v1 `files`), a tree of one file at the top
    // is that file, named by its key, with no folder.
    let single = info.get("files").is_none()
        && tree.len() == 1
        && tree.iter().all(|(_, node)| leaf(node).is_some());
    let mut walk = Walk {
        v1: v1
            .iter()
            .filter(|f| !f.padding && f.length > 0)
            .map(|f| (&f.path[..], f.length))
            .collect(),
        seen: 0,
        path: if single {
            Vec::new()
        } else {
            vec![name.to_owned()]
        },
    };
    walk.folder(tree)?;
    if walk.seen < walk.v1.len() {
        return Err(MetainfoError::InconsistentHybrid(format!(
            "v2 has fewer files with data than v1's {}",
            walk.v1.len()
        )));
    }
    Ok(())
}

fn malformed() -> MetainfoError {
    MetainfoError::WrongType {
        field: "file tree",
        expected: "a dictionary of dictionaries",
    }
}

/// Compares v2 files with v1's as the tree is walked, without building v2 paths: the tree
/// shares folder prefixes, so its paths written out could be far larger than the torrent.
struct Walk<'v> {
    /// v1's files with data: path (torrent name first, as in [`FileEntry`]) and length.
    v1: Vec<(&'v [String], u64)>,
    /// v2 files with data met so far.
    seen: usize,
    /// The folder being walked, then the file being compared.
    path: Vec<String>,
}

impl Walk<'_> {
    /// Walks one folder in the tree's order. Recursion depth is bounded by the decoder's
    /// nesting limit; each node is sanitized once, and a comparison stops at the first
    /// difference, so the cost is bounded by the torrent's size.
    fn folder(&mut self, folder: &Dict<'_>) -> Result<(), MetainfoError> {
        for (key, node) in folder.iter() {
            let dict = node.as_dict().ok_or(malformed())?;
            if key.is_empty() {
                return Err(malformed());
            }
            self.path.push(sanitize_component(key));
            match leaf(node) {
                Some(file) => {
                    if let Some(length) = data_length(file)? {
                        self.file(length)?;
                    }
                }
                None => self.folder(dict)?,
            }
            self.path.pop();
        }
        Ok(())
    }

    fn file(&mut self, length: u64) -> Result<(), MetainfoError> {
        let index = self.seen;
        self.seen += 1;
        let Some(&(v1_path, v1_length)) = self.v1.get(index) else {
            return Err(MetainfoError::InconsistentHybrid(format!(
                "v2 has more files with data than v1's {}",
                self.v1.len()
            )));
        };
        if v1_path == &self.path[..] && v1_length == length {
            return Ok(());
        }
        Err(MetainfoError::InconsistentHybrid(format!(
            "file {index} is `{}` ({v1_length} bytes) in v1 but `{}` ({length} bytes) in v2",
            v1_path.join("/"),
            self.path.join("/"),
        )))
    }
}

/// The file entry of a tree node that is a file: a dictionary whose only key is empty.
fn leaf<'v, 'a>(node: &'v Value<'a>) -> Option<&'v Value<'a>> {
    let dict = node.as_dict()?;
    dict.get("").filter(|_| dict.len() == 1)
}

/// The length of a v2 file entry, or `None` when it carries no data (empty, pad or symlink).
fn data_length(file: &Value<'_>) -> Result<Option<u64>, MetainfoError> {
    let attr = file
        .get("attr")
        .and_then(Value::as_bytes)
        .unwrap_or_default();
    if attr.contains(&b'p') || attr.contains(&b'l') {
        return Ok(None);
    }
    let length = file
        .get("length")
        .and_then(Value::as_int)
        .and_then(|l| u64::try_from(l).ok())
        .ok_or(MetainfoError::WrongType {
            field: "file tree",
            expected: "files with a non-negative `length`",
        })?;
    Ok((length > 0).then_some(length))
}
