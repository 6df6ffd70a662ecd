//! Creating a torrent from a file or folder on disk.
//!
//! Folders are walked in byte-wise sorted order so the same tree always gives the same torrent.
//! Nothing is skipped silently: hidden files are included, and anything that cannot be
//! represented faithfully (non-UTF-8 or unsafe names, sockets, symlinks leaving the folder,
//! symlinked folders, which could loop) is an error naming the path.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::create::{CreateError, CreateOptions, FileSpec, TorrentBuilder, UnsignedTorrent};
use crate::metainfo::Metainfo;

/// Read size while hashing; large enough to keep syscalls cheap, small enough to stay cache-friendly.
const READ_CHUNK: usize = 1 << 20;

#[derive(Debug, Error)]
pub enum CreateFromPathError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: name is not valid UTF-8", .0.display())]
    NonUtf8Name(PathBuf),
    #[error("{}: symbolic link points outside the folder being shared", .0.display())]
    SymlinkOutside(PathBuf),
    #[error("{}: symbolic links to folders are not followed", .0.display())]
    SymlinkedFolder(PathBuf),
    #[error("{}: not a regular file or folder", .0.display())]
    NotRegular(PathBuf),
    #[error("{}: file changed size while it was being read", .0.display())]
    FileChanged(PathBuf),
    #[error("{}: cannot derive a torrent name from this path; pass a name", .0.display())]
    NoName(PathBuf),
    #[error("{0}")]
    Create(#[from] CreateError),
}

/// Creates a torrent of the file or folder at `path`. An empty `options.name` means "use the
/// file or folder name". `options.creator`, if any, is signed in after hashing.
pub fn create_from_path(
    path: &Path,
    mut options: CreateOptions,
) -> Result<Metainfo, CreateFromPathError> {
    let creator = options.creator.take();
    let unsigned = create_unsigned_from_path(path, options)?;
    Ok(unsigned.finish(creator.as_ref())?)
}

/// Hashes the file or folder at `path` into a torrent that still lacks its creator record
/// (see [`TorrentBuilder::finish_unsigned`]); `options.creator` is ignored.
pub fn create_unsigned_from_path(
    path: &Path,
    mut options: CreateOptions,
) -> Result<UnsignedTorrent, CreateFromPathError> {
    let root = fs::canonicalize(path).map_err(io_error(path))?;
    if options.name.is_empty() {
        options.name = root
            .file_name()
            .ok_or_else(|| CreateFromPathError::NoName(path.to_owned()))?
            .to_str()
            .ok_or_else(|| CreateFromPathError::NonUtf8Name(path.to_owned()))?
            .to_owned();
    }
    let metadata = fs::metadata(&root).map_err(io_error(&root))?;
    if metadata.is_file() {
        let mut builder = TorrentBuilder::single_file(options, metadata.len())?;
        hash_file(&root, metadata.len(), &mut builder)?;
        return Ok(builder.finish_unsigned()?);
    }
    if !metadata.is_dir() {
        return Err(CreateFromPathError::NotRegular(path.to_owned()));
    }
    let mut found = Vec::new();
    walk(&root, &root, &mut Vec::new(), &mut found)?;
    let specs = found.iter().map(|(spec, _)| spec.clone()).collect();
    let mut builder = TorrentBuilder::folder(options, specs)?;
    for (spec, file_path) in &found {
        hash_file(file_path, spec.length, &mut builder)?;
    }
    Ok(builder.finish_unsigned()?)
}

/// Appends every file under `dir` (as `(spec, path on disk)`) in sorted order.
fn walk(
    root: &Path,
    dir: &Path,
    relative: &mut Vec<String>,
    found: &mut Vec<(FileSpec, PathBuf)>,
) -> Result<(), CreateFromPathError> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .map_err(io_error(dir))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| CreateFromPathError::NonUtf8Name(path.clone()))?;
        let file_type = entry.file_type().map_err(io_error(&path))?;
        relative.push(name);
        if file_type.is_dir() {
            walk(root, &path, relative, found)?;
        } else {
            let length = regular_file_length(root, &path, file_type.is_symlink())?;
            found.push((
                FileSpec {
                    path: relative.clone(),
                    length,
                },
                path,
            ));
        }
        relative.pop();
    }
    Ok(())
}

/// The length of a regular file, or of the regular file a symlink inside `root` points to.
fn regular_file_length(
    root: &Path,
    path: &Path,
    is_symlink: bool,
) -> Result<u64, CreateFromPathError> {
    if is_symlink {
        let target = fs::canonicalize(path).map_err(io_error(path))?;
        if !target.starts_with(root) {
            return Err(CreateFromPathError::SymlinkOutside(path.to_owned()));
        }
    }
    let metadata = fs::metadata(path).map_err(io_error(path))?;
    if metadata.is_dir() {
        return Err(CreateFromPathError::SymlinkedFolder(path.to_owned()));
    }
    if !metadata.is_file() {
        return Err(CreateFromPathError::NotRegular(path.to_owned()));
    }
    Ok(metadata.len())
}

/// Feeds exactly `length` bytes of the file to the builder; a file that is shorter or longer
/// now than when it was listed is an error (its bytes would shift every later piece).
fn hash_file(
    path: &Path,
    length: u64,
    builder: &mut TorrentBuilder,
) -> Result<(), CreateFromPathError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut reader = file.take(length.saturating_add(1));
    let mut buffer = vec![0u8; READ_CHUNK];
    let mut read_total: u64 = 0;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(path)(e)),
        };
        read_total += n as u64;
        if read_total > length {
            return Err(CreateFromPathError::FileChanged(path.to_owned()));
        }
        builder.update(&buffer[..n])?;
    }
    if read_total != length {
        return Err(CreateFromPathError::FileChanged(path.to_owned()));
    }
    Ok(())
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CreateFromPathError + '_ {
    move |source| CreateFromPathError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("seedcast-native-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn walks_folders_in_sorted_order_including_hidden_files() {
        let dir = temp_dir("sorted");
        let share = dir.join("share");
        fs::create_dir_all(share.join("b")).unwrap();
        fs::write(share.join("b/z.txt"), b"zz").unwrap();
        fs::write(share.join("a.txt"), b"a").unwrap();
        fs::write(share.join(".hidden"), b"h").unwrap();
        fs::write(share.join("B.txt"), b"").unwrap();
        let torrent = create_from_path(&share, CreateOptions::default()).unwrap();
        let paths: Vec<_> = torrent.info.files.iter().map(|f| f.path_string()).collect();
        assert_eq!(
            paths,
            [
                "share/.hidden",
                "share/B.txt",
                "share/a.txt",
                "share/b/z.txt"
            ]
        );
        assert_eq!(torrent.info.name, "share");
        assert_eq!(torrent.info.total_length, 4);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_are_read_outside_are_refused() {
        let dir = temp_dir("links");
        let share = dir.join("share");
        fs::create_dir_all(&share).unwrap();
        fs::write(share.join("real"), b"data").unwrap();
        fs::write(dir.join("secret"), b"secret").unwrap();
        std::os::unix::fs::symlink(share.join("real"), share.join("inside")).unwrap();
        let torrent = create_from_path(&share, CreateOptions::default()).unwrap();
        assert_eq!(torrent.info.files.len(), 2);
        assert_eq!(torrent.info.total_length, 8);

        std::os::unix::fs::symlink(dir.join("secret"), share.join("outside")).unwrap();
        let err = create_from_path(&share, CreateOptions::default()).unwrap_err();
        assert!(
            matches!(err, CreateFromPathError::SymlinkOutside(_)),
            "{err}"
        );
        fs::remove_file(share.join("outside")).unwrap();

        std::os::unix::fs::symlink(&share, share.join("loop")).unwrap();
        let err = create_from_path(&share, CreateOptions::default()).unwrap_err();
        assert!(
            matches!(err, CreateFromPathError::SymlinkedFolder(_)),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_folder_and_missing_path_are_errors() {
        let dir = temp_dir("empty");
        let err = create_from_path(&dir, CreateOptions::default()).unwrap_err();
        assert!(
            matches!(err, CreateFromPathError::Create(CreateError::NoData)),
            "{err}"
        );
        let err = create_from_path(&dir.join("missing"), CreateOptions::default()).unwrap_err();
        assert!(matches!(err, CreateFromPathError::Io { .. }), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
