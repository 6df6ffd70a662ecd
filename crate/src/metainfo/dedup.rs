//! Files whose paths coincide after sanitizing are renamed the way libtorrent renames them, so
//! both clients put such a torrent in the same files: a later file takes the first free
//! `.N` before its extension (`bar.txt`, `bar.1.txt`, `bar.2.txt`, ...). As in libtorrent:
//! names compare with ASCII case ignored (the same file on Windows and macOS disks), every
//! folder some file needs is claimed before any file (a file named like a folder is renamed,
//! never the folder), and pad files take no part (they are never written).

use std::collections::{HashMap, HashSet};

use super::MAX_TAKEN_CANDIDATES;
use super::error::MetainfoError;
use super::info::FileEntry;
use super::path::numbered;

/// A name inside a folder: the folder's id (0 is the download directory) and the name with
/// ASCII letters lower-cased.
type Key = (u32, String);

/// Renames the last component of every file whose path another file already holds.
///
/// Cost: linear in the total path length plus the candidates tried, which are at most one
/// per renamed file plus `MAX_TAKEN_CANDIDATES` (the next number to try is remembered per
/// name, so `N` copies of one name cost `N` tries, not `N²/2` as a search from 1 would).
pub(super) fn rename_duplicates(files: &mut [FileEntry]) -> Result<(), MetainfoError> {
    let mut folders: HashMap<Key, u32> = HashMap::new();
    let mut folder_of = Vec::with_capacity(files.len());
    for file in files.iter().filter(|f| !f.padding) {
        let mut folder = 0;
        let dirs = file.path.split_last().map_or(&[][..], |(_, dirs)| dirs);
        for component in dirs {
            let next_id = folders.len() as u32 + 1;
            folder = *folders.entry((folder, lower(component))).or_insert(next_id);
        }
        folder_of.push(folder);
    }

    let mut names: HashSet<Key> = HashSet::new();
    let mut next_number: HashMap<Key, usize> = HashMap::new();
    let mut taken_candidates = 0;
    for (file, folder) in files.iter_mut().filter(|f| !f.padding).zip(folder_of) {
        let Some(name) = file.path.last_mut() else {
            continue; // Unreachable: the parser refuses empty paths.
        };
        let key = (folder, lower(name));
        let is_free =
            |key: &Key, names: &HashSet<Key>| !names.contains(key) && !folders.contains_key(key);
        if is_free(&key, &names) {
            names.insert(key);
            continue;
        }
        // Numbers below `n` were taken when last tried, and names are never released.
        let n = next_number.entry(key).or_insert(1);
        loop {
            let candidate = numbered(name, *n);
            *n += 1;
            let candidate_key = (folder, lower(&candidate));
            if is_free(&candidate_key, &names) {
                names.insert(candidate_key);
                *name = candidate;
                break;
            }
            taken_candidates += 1;
            if taken_candidates > MAX_TAKEN_CANDIDATES {
                return Err(MetainfoError::TooManyDuplicatePaths {
                    max: MAX_TAKEN_CANDIDATES,
                });
            }
        }
    }
    Ok(())
}

fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}
