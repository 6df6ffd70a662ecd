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

/// A file that carries data: sanitized path (torrent name first, as in [`FileEntry`]) and length.
type DataFile = (Vec<String>, u64);

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
    let v1: Vec<DataFile> = v1
        .iter()
        .filter(|f| !f.padding && f.length > 0)
        .map(|f| (f.path.clone(), f.length))
        .collect();
    let tree = tree.as_dict().ok_or(malformed())?;
    // As libtorrent: in a single-file torrent (no v1 `files`), a tree of one file at the top
    // is that file, named by its key, with no folder.
    let single = info.get("files").is_none()
        && tree.len() == 1
        && tree.iter().all(|(_, node)| leaf(node).is_some());
    let mut v2 = Vec::new();
    let root = if single {
        Vec::new()
    } else {
        vec![name.to_owned()]
    };
    walk(tree, root, v1.len(), &mut v2)?;

    if let Some((i, (a, b))) = v1.iter().zip(&v2).enumerate().find(|(_, (a, b))| a != b) {
        return Err(MetainfoError::InconsistentHybrid(format!(
            "file {i} is `{}` ({} bytes) in v1 but `{}` ({} bytes) in v2",
            a.0.join("/"),
            a.1,
            b.0.join("/"),
            b.1
        )));
    }
    if v1.len() != v2.len() {
        let more = if v2.len() > v1.len() { "more" } else { "fewer" };
        return Err(MetainfoError::InconsistentHybrid(format!(
            "v2 has {more} files with data than v1's {}",
            v1.len()
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

/// Appends the data files under one folder of the tree, in the tree's order. Stops once
/// there are more than `cap` (the v1 count): the answer is known and memory stays bounded.
/// Recursion depth is bounded by the decoder's nesting limit.
fn walk(
    folder_dict: &Dict<'_>,
    folder: Vec<String>,
    cap: usize,
    out: &mut Vec<DataFile>,
) -> Result<(), MetainfoError> {
    for (key, node) in folder_dict.iter() {
        if out.len() > cap {
            return Ok(());
        }
        let dict = node.as_dict().ok_or(malformed())?;
        if key.is_empty() {
            return Err(malformed());
        }
        let mut path = folder.clone();
        path.push(sanitize_component(key));
        match leaf(node) {
            Some(file) => {
                if let Some(length) = data_length(file)? {
                    out.push((path, length));
                }
            }
            None => walk(dict, path, cap, out)?,
        }
    }
    Ok(())
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
