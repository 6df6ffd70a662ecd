//! `info` dictionaries written by hand for the session tests: any file layout (pad files,
//! empty files, pieces longer than a stream chunk) without hashing content. Piece hashes
//! are zeros; these tests never check piece bytes.

use seedcast::metainfo::Info;

/// One file: name, length, whether it is a BEP 47 pad file.
pub type File<'a> = (&'a str, u64, bool);

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{}:", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// A multi-file `info` dictionary named `t` (keys in bencode order).
pub fn info_bytes(piece_length: u32, files: &[File<'_>]) -> Vec<u8> {
    let total: u64 = files.iter().map(|f| f.1).sum();
    let pieces = total.div_ceil(u64::from(piece_length)) as usize;
    let mut out = b"d5:filesl".to_vec();
    for &(name, length, pad) in files {
        out.push(b'd');
        if pad {
            string(&mut out, b"attr");
            string(&mut out, b"p");
        }
        string(&mut out, b"length");
        out.extend_from_slice(format!("i{length}e").as_bytes());
        string(&mut out, b"path");
        out.push(b'l');
        string(&mut out, name.as_bytes());
        out.extend_from_slice(b"ee");
    }
    out.push(b'e');
    string(&mut out, b"name");
    string(&mut out, b"t");
    string(&mut out, b"piece length");
    out.extend_from_slice(format!("i{piece_length}e").as_bytes());
    string(&mut out, b"pieces");
    string(&mut out, &vec![0; pieces * 20]);
    out.push(b'e');
    out
}

#[allow(dead_code)] // session_resume uses only the bytes
pub fn info(piece_length: u32, files: &[File<'_>]) -> Info {
    Info::from_bytes(&info_bytes(piece_length, files)).unwrap()
}
