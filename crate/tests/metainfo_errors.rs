//! Every validation of `Metainfo::from_bytes` / `Info::from_bytes`, each with the error it must give.

use std::collections::BTreeMap;

use seedcast::bencode::{BencodeError, OwnedValue as V};
use seedcast::metainfo::{
    Info, MAX_FILES, MAX_PIECE_LENGTH, MAX_PIECES, MAX_TAKEN_CANDIDATES, MAX_TORRENT_BYTES,
    Metainfo, MetainfoError as E,
};

type Dict = BTreeMap<Vec<u8>, V>;

fn k(key: &str) -> Vec<u8> {
    key.as_bytes().to_vec()
}

/// A valid single-file info dict: 40,000 bytes in two 32 KiB pieces.
fn valid_info() -> Dict {
    BTreeMap::from([
        (k("name"), V::from("file.bin")),
        (k("piece length"), V::Int(32768)),
        (k("pieces"), V::Bytes(vec![0; 40])),
        (k("length"), V::Int(40000)),
    ])
}

fn torrent(info: Dict) -> Vec<u8> {
    V::Dict(BTreeMap::from([(k("info"), V::Dict(info))])).encode()
}

/// The error for a valid info dict after `change` is applied.
fn error_after(change: impl FnOnce(&mut Dict)) -> E {
    let mut info = valid_info();
    change(&mut info);
    let err = Metainfo::from_bytes(&torrent(info.clone())).expect_err("torrent must be refused");
    // The ut_metadata path must refuse the same info dict the same way.
    assert_eq!(
        Info::from_bytes(&V::Dict(info).encode()).err(),
        Some(err.clone())
    );
    err
}

fn multi_file(files: Vec<V>) -> impl FnOnce(&mut Dict) {
    move |info| {
        info.remove(&k("length"));
        info.insert(k("files"), V::List(files));
    }
}

fn file(length: i64, path: &[&str]) -> V {
    V::Dict(BTreeMap::from([
        (k("length"), V::Int(length)),
        (k("path"), V::string_list(path)),
    ]))
}

#[test]
fn the_baseline_is_valid() {
    assert!(Metainfo::from_bytes(&torrent(valid_info())).is_ok());
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let huge = vec![b'x'; MAX_TORRENT_BYTES + 1];
    assert_eq!(
        Metainfo::from_bytes(&huge),
        Err(E::TooLarge {
            size: MAX_TORRENT_BYTES + 1,
            max: MAX_TORRENT_BYTES
        })
    );
    assert!(matches!(Info::from_bytes(&huge), Err(E::TooLarge { .. })));
}

#[test]
fn malformed_bencode_and_wrong_shapes() {
    assert!(matches!(
        Metainfo::from_bytes(b"not bencode"),
        Err(E::Bencode(_))
    ));
    assert!(matches!(
        Metainfo::from_bytes(b""),
        Err(E::Bencode(BencodeError::UnexpectedEnd { .. }))
    ));
    let mut trailing = torrent(valid_info());
    trailing.push(b'x');
    assert!(matches!(
        Metainfo::from_bytes(&trailing),
        Err(E::Bencode(BencodeError::TrailingBytes { count: 1 }))
    ));
    let mut junk_after_newline = torrent(valid_info());
    junk_after_newline.extend_from_slice(b"\nx\n");
    assert!(matches!(
        Metainfo::from_bytes(&junk_after_newline),
        Err(E::Bencode(BencodeError::TrailingBytes { count: 2 }))
    ));
    assert_eq!(
        Metainfo::from_bytes(b"le"),
        Err(E::NotADictionary("the torrent"))
    );
    assert_eq!(
        Metainfo::from_bytes(b"d8:announce1:xe"),
        Err(E::MissingInfo)
    );
    assert_eq!(
        Metainfo::from_bytes(b"d4:infoi1ee"),
        Err(E::NotADictionary("info"))
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = [&b"d4:infod1:x"[..], &[b'l'; 100], &[b'e'; 100], b"ee"].concat();
    assert!(matches!(
        Metainfo::from_bytes(&deep),
        Err(E::Bencode(BencodeError::TooDeep { .. }))
    ));
}

#[test]
fn missing_required_fields() {
    assert_eq!(
        error_after(|i| drop(i.remove(&k("name")))),
        E::MissingField("name")
    );
    assert_eq!(
        error_after(|i| drop(i.remove(&k("piece length")))),
        E::MissingField("piece length")
    );
    assert_eq!(
        error_after(|i| drop(i.remove(&k("pieces")))),
        E::MissingField("pieces")
    );
    assert_eq!(error_after(|i| drop(i.remove(&k("length")))), E::NoLength);
    assert_eq!(
        error_after(multi_file(vec![V::Dict(BTreeMap::from([(
            k("path"),
            V::string_list(["a"])
        )]))])),
        E::MissingField("length")
    );
    assert_eq!(
        error_after(multi_file(vec![V::Dict(BTreeMap::from([(
            k("length"),
            V::Int(1)
        )]))])),
        E::MissingField("path")
    );
}

#[test]
fn wrong_types() {
    let wrong = |field: &'static str, expected: &'static str| E::WrongType { field, expected };
    assert_eq!(
        error_after(|i| drop(i.insert(k("piece length"), V::from("32768")))),
        wrong("piece length", "an integer")
    );
    assert_eq!(
        error_after(|i| drop(i.insert(k("pieces"), V::Int(0)))),
        wrong("pieces", "a byte string")
    );
    assert_eq!(
        error_after(|i| drop(i.insert(k("length"), V::from("40000")))),
        wrong("length", "an integer")
    );
    assert_eq!(
        error_after(multi_file(vec![V::Int(1)])),
        wrong("files", "a list of dictionaries")
    );
    assert_eq!(
        error_after(|i| {
            i.remove(&k("length"));
            i.insert(k("files"), V::from("nope"));
        }),
        wrong("files", "a list")
    );
    let int_path = V::Dict(BTreeMap::from([
        (k("length"), V::Int(1)),
        (k("path"), V::List(vec![V::Int(1)])),
    ]));
    assert_eq!(
        error_after(multi_file(vec![int_path])),
        wrong("path", "a list of strings")
    );
}

#[test]
fn piece_length_must_be_positive_and_bounded() {
    for bad in [0, -16384, i64::from(MAX_PIECE_LENGTH) + 1, i64::MAX] {
        assert_eq!(
            error_after(|i| drop(i.insert(k("piece length"), V::Int(bad)))),
            E::InvalidPieceLength(bad)
        );
    }
}

#[test]
fn whitespace_after_the_torrent_is_ignored() {
    let plain = Metainfo::from_bytes(&torrent(valid_info())).unwrap();
    for tail in [&b"\n"[..], b"\r\n", b" \n\n"] {
        let bytes = [torrent(valid_info()), tail.to_vec()].concat();
        assert_eq!(
            Metainfo::from_bytes(&bytes).as_ref(),
            Ok(&plain),
            "{tail:?}"
        );
    }
}

#[test]
fn piece_length_up_to_512_mib_is_accepted() {
    assert_eq!(MAX_PIECE_LENGTH, 512 * 1024 * 1024);
    let mut info = valid_info();
    info.insert(k("piece length"), V::Int(MAX_PIECE_LENGTH.into()));
    info.insert(k("pieces"), V::Bytes(vec![0; 20]));
    let torrent = Metainfo::from_bytes(&torrent(info)).unwrap();
    assert_eq!(torrent.info.piece_length, MAX_PIECE_LENGTH);
    assert_eq!(torrent.info.piece_size(0), 40000);
}

#[test]
fn non_power_of_two_piece_length_is_accepted() {
    let mut info = valid_info();
    info.insert(k("piece length"), V::Int(20000));
    info.insert(k("pieces"), V::Bytes(vec![0; 40]));
    assert_eq!(
        Metainfo::from_bytes(&torrent(info))
            .unwrap()
            .info
            .piece_size(1),
        20000
    );
}

#[test]
fn pieces_must_be_whole_hashes_matching_the_length() {
    assert_eq!(
        error_after(|i| drop(i.insert(k("pieces"), V::Bytes(vec![0; 41])))),
        E::PiecesNotMultipleOf20(41)
    );
    assert_eq!(
        error_after(|i| drop(i.insert(k("pieces"), V::Bytes(vec![0; 60])))),
        E::PieceCountMismatch {
            expected: 2,
            actual: 3
        }
    );
    assert_eq!(
        error_after(|i| drop(i.insert(k("length"), V::Int(32768)))),
        E::PieceCountMismatch {
            expected: 1,
            actual: 2
        }
    );
}

#[test]
fn piece_count_is_capped() {
    let count = MAX_PIECES + 1;
    let err = error_after(|i| drop(i.insert(k("pieces"), V::Bytes(vec![0; count * 20]))));
    assert_eq!(
        err,
        E::TooManyPieces {
            count,
            max: MAX_PIECES
        }
    );
}

#[test]
fn lengths_must_be_sane() {
    assert_eq!(
        error_after(|i| drop(i.insert(k("length"), V::Int(-1)))),
        E::InvalidFileLength(-1)
    );
    assert_eq!(
        error_after(|i| drop(i.insert(k("length"), V::Int(i64::MAX)))),
        E::InvalidFileLength(i64::MAX)
    );
    let near_cap = 1i64 << 47;
    let err = error_after(multi_file(vec![
        file(near_cap, &["a"]),
        file(near_cap, &["b"]),
        file(near_cap, &["c"]),
    ]));
    assert_eq!(err, E::TotalTooLarge);
    assert_eq!(
        error_after(|i| drop(i.insert(k("length"), V::Int(0)))),
        E::Empty
    );
}

#[test]
fn v2_only_torrents_are_refused_clearly() {
    let err = error_after(|i| {
        i.remove(&k("pieces"));
        i.insert(k("meta version"), V::Int(2));
        i.insert(k("file tree"), V::Dict(BTreeMap::new()));
    });
    assert_eq!(err, E::V2Only);
    assert!(err.to_string().contains("v2-only"));
}

#[test]
fn single_or_multi_file_never_both() {
    let err = error_after(|i| drop(i.insert(k("files"), V::List(vec![file(40000, &["a"])]))));
    assert_eq!(err, E::BothLengthAndFiles);
}

#[test]
fn file_list_must_be_non_empty_and_bounded() {
    assert_eq!(error_after(multi_file(vec![])), E::NoFiles);
    assert_eq!(
        error_after(multi_file(vec![file(40000, &[])])),
        E::EmptyPath(0)
    );
    let many = (0..=MAX_FILES).map(|_| file(0, &["x"])).collect();
    assert_eq!(
        error_after(multi_file(many)),
        E::TooManyFiles {
            count: MAX_FILES + 1,
            max: MAX_FILES
        }
    );
}

/// `a.1` .. `a.{taken}`, then `a` twice: the second `a` finds `taken` numbers taken.
fn duplicates_finding(taken: usize) -> Vec<V> {
    let mut files: Vec<V> = (1..=taken).map(|n| file(0, &[&format!("a.{n}")])).collect();
    files.extend([file(40000, &["a"]), file(0, &["a"])]);
    files
}

#[test]
fn renaming_duplicates_gives_up_past_the_bound() {
    let mut info = valid_info();
    multi_file(duplicates_finding(MAX_TAKEN_CANDIDATES))(&mut info);
    let torrent = Metainfo::from_bytes(&torrent(info)).expect("within the bound");
    let last = torrent.info.files.last().unwrap();
    assert_eq!(
        last.path_string(),
        format!("file.bin/a.{}", MAX_TAKEN_CANDIDATES + 1)
    );

    let err = error_after(multi_file(duplicates_finding(MAX_TAKEN_CANDIDATES + 1)));
    assert_eq!(
        err,
        E::TooManyDuplicatePaths {
            max: MAX_TAKEN_CANDIDATES
        }
    );
}

/// A v2 `file tree` file of `length` bytes.
fn leaf(length: i64) -> V {
    let entry = BTreeMap::from([
        (k("length"), V::Int(length)),
        (k("pieces root"), V::Bytes(vec![7; 32])),
    ]);
    V::Dict(BTreeMap::from([(k(""), V::Dict(entry))]))
}

/// Makes the torrent hybrid with this `file tree`.
fn with_tree(tree: Vec<(&'static str, V)>, v1: impl FnOnce(&mut Dict)) -> impl FnOnce(&mut Dict) {
    move |info| {
        v1(info);
        info.insert(k("meta version"), V::Int(2));
        let tree = tree.into_iter().map(|(name, node)| (k(name), node));
        info.insert(k("file tree"), V::Dict(tree.collect()));
    }
}

fn pad(length: i64) -> V {
    V::Dict(BTreeMap::from([
        (k("attr"), V::from("p")),
        (k("length"), V::Int(length)),
        (k("path"), V::string_list([".pad", &length.to_string()])),
    ]))
}

/// v1: `a` (20,000 bytes), a pad to the 32 KiB piece boundary, `b` (7,232 bytes).
fn padded_v1() -> impl FnOnce(&mut Dict) {
    multi_file(vec![file(20000, &["a"]), pad(12768), file(7232, &["b"])])
}

fn accepted(change: impl FnOnce(&mut Dict)) -> Metainfo {
    let mut info = valid_info();
    change(&mut info);
    Metainfo::from_bytes(&torrent(info)).expect("torrent accepted")
}

#[test]
fn hybrid_torrents_whose_v1_and_v2_files_agree_are_accepted() {
    accepted(with_tree(vec![("file.bin", leaf(40000))], |_| ()));
    // Pad files (v1) and empty files (either side) carry no data and are not compared.
    let tree = vec![("a", leaf(20000)), ("b", leaf(7232)), ("empty", leaf(0))];
    let torrent = accepted(with_tree(tree, padded_v1()));
    assert_eq!(torrent.info.files[2].path_string(), "file.bin/b");
    let nested = V::Dict(BTreeMap::from([(k("b"), leaf(7232))]));
    let v1 = multi_file(vec![
        file(20000, &["a"]),
        pad(12768),
        file(7232, &["sub", "b"]),
    ]);
    accepted(with_tree(vec![("a", leaf(20000)), ("sub", nested)], v1));
}

#[test]
fn hybrid_torrents_whose_v1_and_v2_files_disagree_are_refused() {
    type Change = Box<dyn FnOnce(&mut Dict)>;
    let disagree = |tree: Vec<(&'static str, V)>, v1: Change| match error_after(with_tree(tree, v1))
    {
        E::InconsistentHybrid(why) => why,
        other => panic!("wrong error: {other}"),
    };
    let why = disagree(vec![("file.bin", leaf(39999))], Box::new(|_: &mut Dict| ()));
    assert_eq!(
        why,
        "file 0 is `file.bin` (40000 bytes) in v1 but `file.bin` (39999 bytes) in v2"
    );
    let why = disagree(
        vec![("other.bin", leaf(40000))],
        Box::new(|_: &mut Dict| ()),
    );
    assert!(why.contains("`other.bin`"), "{why}");
    let why = disagree(
        vec![("a", leaf(20000)), ("c", leaf(7232))],
        Box::new(padded_v1()),
    );
    assert!(
        why.contains("`file.bin/b` (7232 bytes) in v1 but `file.bin/c`"),
        "{why}"
    );
    // Same files in another order.
    let swapped = multi_file(vec![file(7232, &["b"]), pad(25536), file(20000, &["a"])]);
    let why = disagree(
        vec![("a", leaf(20000)), ("b", leaf(7232))],
        Box::new(swapped),
    );
    assert!(why.starts_with("file 0 is `file.bin/b`"), "{why}");
    let extra = vec![("a", leaf(20000)), ("b", leaf(7232)), ("c", leaf(1))];
    let why = disagree(extra, Box::new(padded_v1()));
    assert_eq!(why, "v2 has more files with data than v1's 2");
    let why = disagree(vec![("a", leaf(20000))], Box::new(padded_v1()));
    assert_eq!(why, "v2 has fewer files with data than v1's 2");

    let err = error_after(with_tree(vec![("file.bin", leaf(1))], |_| ()));
    let line = err.to_string();
    assert!(line.starts_with("hybrid torrent's v1 file list and v2 `file tree` disagree: "));
    assert!(!line.contains('\n'));
    let malformed = error_after(with_tree(vec![("file.bin", V::Int(1))], |_| ()));
    assert_eq!(
        malformed,
        E::WrongType {
            field: "file tree",
            expected: "a dictionary of dictionaries"
        }
    );
}

#[test]
fn errors_read_as_one_line() {
    let err = error_after(|i| drop(i.insert(k("pieces"), V::Bytes(vec![0; 41]))));
    assert_eq!(
        err.to_string(),
        "`pieces` is 41 bytes, not a multiple of 20"
    );
    assert!(!E::V2Only.to_string().contains('\n'));
}
