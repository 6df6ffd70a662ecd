//! A torrent's pieces in its files on disk: [`FileStorage`], the native `engine::Storage`.
//!
//! Downloads go to `DIR/NAME` (a folder torrent: `DIR/NAME/PATH…`, the sanitised paths of
//! [`crate::metainfo::FileEntry::path`], exactly what `seedcast info` prints). Files are
//! pre-allocated to their length, and each verified piece is written in place with
//! positioned writes (a piece may span several files); BEP 47 padding files are never created
//! (they read as zeros). Seeding reads the ORIGINAL files of `seedcast seed PATH`, read-only.
//!
//! Invariant: nothing is created, written or followed outside DIR. Every component is a
//! sanitised name (never `.`, `..`, empty or containing a separator), and before a file is
//! created its folder is resolved (symlinks included) and must still be inside DIR.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

use crate::engine::{Bitfield, Storage, StorageError};
use crate::metainfo::Info;
use crate::metainfo::path::is_safe_component;

use super::resume::{FileState, ResumeStore, state_of};

/// Open file handles kept at once: a torrent may list up to `MAX_FILES` (262,144) files, far
/// over the usual limit of 1,024 descriptors, which the peer's sockets share.
pub const MAX_OPEN_FILES: usize = 128;

#[derive(Debug, Error)]
pub enum FilesError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("`{0}` would be outside the download folder")]
    Outside(String),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> FilesError + '_ {
    move |source| FilesError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One file of a torrent, where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaidFile {
    pub path: PathBuf,
    /// Byte offset in the torrent's data.
    pub start: u64,
    pub length: u64,
    /// A BEP 47 pad file: zeros, never on disk.
    pub padding: bool,
}

/// Where every file of a torrent lives on disk, in torrent order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub files: Vec<LaidFile>,
    pub piece_length: u32,
    pub total_length: u64,
}

impl Layout {
    /// `dir/NAME` or `dir/NAME/PATH…`. Refuses a path that is not made of safe names (the
    /// metainfo parser only hands out safe ones; this is the check next to the writes).
    pub fn for_download(dir: &Path, info: &Info) -> Result<Layout, FilesError> {
        let files = info
            .files
            .iter()
            .map(|file| {
                let mut path = dir.to_path_buf();
                for component in &file.path {
                    let single = Path::new(component).components().count() == 1
                        && matches!(
                            Path::new(component).components().next(),
                            Some(Component::Normal(_))
                        );
                    if !single || !is_safe_component(component) {
                        return Err(FilesError::Outside(file.path_string()));
                    }
                    path.push(component);
                }
                Ok(laid(path, file))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::new(files, info))
    }

    /// The files `seedcast seed PATH` hashed: PATH itself for one file, else PATH/PATH-in-torrent
    /// (the torrent's first component is its name, which `--name` may have changed).
    pub fn for_seed(path: &Path, info: &Info) -> Layout {
        let single = fs::metadata(path).is_ok_and(|m| m.is_file());
        let files = info
            .files
            .iter()
            .map(|file| {
                let on_disk = match single {
                    true => path.to_path_buf(),
                    false => file.path[1..]
                        .iter()
                        .fold(path.to_path_buf(), |p, c| p.join(c)),
                };
                laid(on_disk, file)
            })
            .collect();
        Self::new(files, info)
    }

    fn new(files: Vec<LaidFile>, info: &Info) -> Layout {
        Layout {
            files,
            piece_length: info.piece_length,
            total_length: info.total_length,
        }
    }

    /// The parts of the file data that bytes `offset..offset + len` of the torrent cover:
    /// `(file index, offset in file, range in the caller's buffer)`, in order.
    pub(super) fn spans(
        &self,
        offset: u64,
        len: usize,
    ) -> impl Iterator<Item = (usize, u64, std::ops::Range<usize>)> + '_ {
        let end = offset + len as u64;
        let first = self.files.partition_point(|f| f.start + f.length <= offset);
        self.files[first..]
            .iter()
            .enumerate()
            .take_while(move |(_, f)| f.start < end)
            .filter(|(_, f)| f.length > 0)
            .map(move |(i, f)| {
                let from = offset.max(f.start);
                let to = end.min(f.start + f.length);
                let buffer = (from - offset) as usize..(to - offset) as usize;
                (first + i, from - f.start, buffer)
            })
    }

    pub(super) fn piece_range(&self, index: u32) -> Option<(u64, usize)> {
        let start = u64::from(index) * u64::from(self.piece_length);
        (start < self.total_length).then(|| {
            let len = (self.total_length - start).min(u64::from(self.piece_length));
            (start, len as usize)
        })
    }
}

fn laid(path: PathBuf, file: &crate::metainfo::FileEntry) -> LaidFile {
    LaidFile {
        path,
        start: file.start,
        length: file.length,
        padding: file.padding,
    }
}

/// Creates every non-padding file of `layout` at its full length (sparse where the file
/// system allows), keeping existing bytes, never leaving `dir`.
pub fn allocate(dir: &Path, layout: &Layout) -> Result<(), FilesError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let root = fs::canonicalize(dir).map_err(io_error(dir))?;
    for file in layout.files.iter().filter(|f| !f.padding) {
        let parent = file.path.parent().unwrap_or(dir);
        fs::create_dir_all(parent).map_err(io_error(parent))?;
        let resolved = fs::canonicalize(parent).map_err(io_error(parent))?;
        if !resolved.starts_with(&root) {
            return Err(FilesError::Outside(file.path.display().to_string()));
        }
        // A symlink in place of the file could point anywhere.
        if fs::symlink_metadata(&file.path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(FilesError::Outside(file.path.display().to_string()));
        }
        let handle = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&file.path)
            .map_err(io_error(&file.path))?;
        let current = handle.metadata().map_err(io_error(&file.path))?.len();
        if current != file.length {
            handle.set_len(file.length).map_err(io_error(&file.path))?;
        }
    }
    Ok(())
}

/// An `engine::Storage` over a torrent's files. See the module docs.
#[derive(Debug)]
pub struct FileStorage {
    /// `None` until a magnet's metadata arrives.
    layout: Option<Layout>,
    /// Download folder (`DIR`); `None` for a read-only seed of the original files.
    dir: Option<PathBuf>,
    /// Where a magnet download keeps the .torrent it learned (so a rerun has the metadata).
    resume: Option<ResumeStore>,
    /// Most recently used last; at most `MAX_OPEN_FILES`.
    open: Vec<(usize, File)>,
    /// Seeding: each file's length and mtime when it was hashed. A file that differs now was
    /// edited: its bytes are not served (peers would get data failing its hash and ban us).
    hashed: Vec<Option<FileState>>,
}

impl FileStorage {
    /// Read-write storage for a download into `dir` whose files were already allocated.
    pub fn download(dir: &Path, layout: Layout) -> FileStorage {
        FileStorage {
            layout: Some(layout),
            dir: Some(dir.to_path_buf()),
            resume: None,
            open: Vec::new(),
            hashed: Vec::new(),
        }
    }

    /// Read-write storage for a magnet download into `dir`: files are laid out, allocated and
    /// the .torrent saved to `resume` when the engine reports the metadata (see
    /// [`Storage::metadata_ready`]).
    pub fn awaiting_metadata(dir: &Path, resume: ResumeStore) -> FileStorage {
        FileStorage {
            layout: None,
            dir: Some(dir.to_path_buf()),
            resume: Some(resume),
            open: Vec::new(),
            hashed: Vec::new(),
        }
    }

    /// Read-only storage over the files a seed hashed; call it right after hashing (their
    /// current length and mtime are what is served; a file edited later is refused).
    pub fn seed(layout: Layout) -> FileStorage {
        let hashed = layout
            .files
            .iter()
            .map(|f| fs::metadata(&f.path).ok().and_then(|m| state_of(&m)))
            .collect();
        FileStorage {
            layout: Some(layout),
            dir: None,
            resume: None,
            open: Vec::new(),
            hashed,
        }
    }

    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// Reads the whole of piece `index` into `out` (cleared first); padding reads as zeros.
    pub fn read_piece(&mut self, index: u32, out: &mut Vec<u8>) -> io::Result<()> {
        let (start, len) = self
            .layout
            .as_ref()
            .and_then(|l| l.piece_range(index))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such piece"))?;
        out.clear();
        out.resize(len, 0);
        self.read_at(start, out)
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        let spans: Vec<_> = match &self.layout {
            Some(layout) => layout.spans(offset, buffer.len()).collect(),
            None => return Err(io::Error::other("metadata not known yet")),
        };
        for (file, at, range) in spans {
            if self.is_padding(file) {
                buffer[range].fill(0);
                continue;
            }
            let seeding = self.dir.is_none();
            let hashed = self.hashed.get(file).copied().flatten();
            let handle = self.handle(file)?;
            if seeding && handle.metadata().ok().and_then(|m| state_of(&m)) != hashed {
                return Err(io::Error::other(format!(
                    "{} changed since it was hashed; run seed again to share the new version",
                    self.path_of(file)
                )));
            }
            self.handle(file)?.read_exact_at(&mut buffer[range], at)?;
        }
        Ok(())
    }

    fn is_padding(&self, file: usize) -> bool {
        self.layout.as_ref().is_some_and(|l| l.files[file].padding)
    }

    /// The open handle of file `index`, opening it (and closing the least recently used one)
    /// if needed.
    fn handle(&mut self, index: usize) -> io::Result<&File> {
        if let Some(pos) = self.open.iter().position(|(i, _)| *i == index) {
            let entry = self.open.remove(pos);
            self.open.push(entry);
        } else {
            let path = &self.layout.as_ref().expect("laid out").files[index].path;
            let open = |write| OpenOptions::new().read(true).write(write).open(path);
            let file = match open(self.dir.is_some()) {
                // A finished download made read-only can still be seeded.
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => open(false),
                other => other,
            }
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            if self.open.len() == MAX_OPEN_FILES {
                self.open.remove(0);
            }
            self.open.push((index, file));
        }
        Ok(&self.open.last().expect("just pushed").1)
    }

    fn path_of(&self, file: usize) -> String {
        self.layout
            .as_ref()
            .map(|l| l.files[file].path.display().to_string())
            .unwrap_or_default()
    }
}

impl Storage for FileStorage {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        if self.dir.is_none() {
            return Err(StorageError::Backend("seeding is read-only".into()));
        }
        let (start, len) = self
            .layout
            .as_ref()
            .and_then(|l| l.piece_range(index))
            .ok_or(StorageError::Missing(index))?;
        if len != data.len() {
            return Err(StorageError::Backend(format!(
                "piece {index} is {} bytes, expected {len}",
                data.len()
            )));
        }
        let spans: Vec<_> = self
            .layout
            .as_ref()
            .expect("checked")
            .spans(start, len)
            .collect();
        for (file, at, range) in spans {
            if self.is_padding(file) {
                continue;
            }
            let path = self.path_of(file);
            self.handle(file)
                .and_then(|h| h.write_all_at(&data[range], at))
                .map_err(|e| StorageError::Backend(format!("{path}: {e}")))?;
        }
        Ok(())
    }

    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        let (start, size) = self
            .layout
            .as_ref()
            .and_then(|l| l.piece_range(index))
            .ok_or(StorageError::Missing(index))?;
        let end = u64::from(begin) + u64::from(len);
        if end > size as u64 {
            return Err(StorageError::OutOfRange { index, begin, len });
        }
        let old = out.len();
        out.resize(old + len as usize, 0);
        let read = self.read_at(start + u64::from(begin), &mut out[old..]);
        read.map_err(|e| {
            out.truncate(old);
            StorageError::Backend(e.to_string())
        })
    }

    /// A magnet download learns its files: what an earlier run left there is verified (see
    /// [`ResumeStore::verify`]), the files are allocated, and the .torrent and resume record
    /// saved so a rerun needs no metadata.
    fn metadata_ready(
        &mut self,
        info: &Info,
        info_bytes: &[u8],
    ) -> Result<Option<Bitfield>, StorageError> {
        let Some(dir) = self.dir.clone() else {
            return Ok(None);
        };
        if self.layout.is_some() {
            return Ok(None);
        }
        let backend = |e: FilesError| StorageError::Backend(e.to_string());
        let layout = Layout::for_download(&dir, info).map_err(backend)?;
        self.layout = Some(layout.clone());
        let resume = self.resume.clone();
        let have = match &resume {
            Some(resume) => resume.verify(self, info),
            None => Bitfield::new(info.num_pieces()),
        };
        // Allocation refuses anything resolving outside DIR (a symlink planted there), so
        // what verify may have read through one is never kept or served.
        if let Err(e) = allocate(&dir, &layout) {
            // Never write through a layout that failed its checks.
            self.layout = None;
            self.open.clear();
            return Err(backend(e));
        }
        if let Some(resume) = &resume {
            let saved = resume
                .save_torrent(info_bytes)
                .and_then(|()| resume.save_record(&have, &layout));
            saved.map_err(|e| StorageError::Backend(format!("saving resume state: {e}")))?;
        }
        Ok(Some(have))
    }
}
