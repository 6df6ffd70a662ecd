//! Making untrusted path components safe to join under a download directory.
//!
//! Decision: we sanitize rather than reject (as libtorrent does), and every component of the
//! torrent maps to exactly one safe component, so the folder structure survives and distinct
//! names stay distinct in all but contrived cases (remaining collisions are renamed by the
//! caller with [`numbered`], as libtorrent does). A hostile `["..", "..", "etc", "passwd"]` becomes `__/__/etc/passwd` inside the
//! download directory: still usable, never escaping. The rules, in order:
//!
//! 1. bytes that are not UTF-8 are replaced lossily (U+FFFD);
//! 2. control characters (NUL included), `/`, `\` and the characters Windows forbids
//!    (`: * ? " < > |`) become `_` — this also defuses absolute paths and drive letters (`C:`);
//! 3. the component is cut to at most 240 bytes (file systems allow 255; room is left for rule 5);
//! 4. trailing dots and spaces become `_` — this turns `.`, `..` and the empty name into
//!    `_`, `__` and `_`, and avoids Windows silently trimming them;
//! 5. Windows device names (`CON`, `nul.txt`, `COM1`, ...) get a `_` prefix.

const MAX_COMPONENT_BYTES: usize = 240;

const WINDOWS_DEVICE_NAMES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A safe, non-empty file or folder name for the untrusted component `raw`.
pub fn sanitize_component(raw: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(raw);
    let mut name: String = lossy
        .chars()
        .map(|c| if is_forbidden(c) { '_' } else { c })
        .collect();
    truncate_at_char_boundary(&mut name, MAX_COMPONENT_BYTES);

    let kept = name.trim_end_matches(['.', ' ']).len();
    let trailing = name.len() - kept;
    name.truncate(kept);
    name.extend(core::iter::repeat_n('_', trailing));
    if name.is_empty() {
        name.push('_');
    }

    let stem = name.split('.').next().unwrap_or_default();
    if WINDOWS_DEVICE_NAMES
        .iter()
        .any(|device| stem.eq_ignore_ascii_case(device))
    {
        name.insert(0, '_');
    }
    name
}

/// `name` with `.n` inserted before its extension (the part from the last dot), as libtorrent
/// renames duplicate files: `bar.txt` → `bar.2.txt`, `bar` → `bar.2`, `.hidden` → `.2.hidden`.
/// `name` must be safe; so is the result, which stays within the component cap by shortening
/// the stem (or, for a giant extension, the extension).
pub fn numbered(name: &str, n: usize) -> String {
    let (stem, ext) = name.split_at(name.rfind('.').unwrap_or(name.len()));
    let suffix = format!(".{n}");
    // One byte of room for the `_` that sanitizing may prefix (a stem cut down to `CON`).
    let budget = MAX_COMPONENT_BYTES - 1;
    let mut stem = stem.to_owned();
    let mut ext = ext.to_owned();
    let over = (stem.len() + suffix.len() + ext.len()).saturating_sub(budget);
    let stem_room = stem.len().saturating_sub(over);
    truncate_at_char_boundary(&mut stem, stem_room);
    let ext_room = budget.saturating_sub(suffix.len() + stem.len());
    truncate_at_char_boundary(&mut ext, ext_room);
    sanitize_component(format!("{stem}{suffix}{ext}").as_bytes())
}

/// True when `name` is already safe, i.e. sanitizing would not change it.
pub fn is_safe_component(name: &str) -> bool {
    sanitize_component(name.as_bytes()) == name
}

fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
}

fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let cut = (0..=max_bytes)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralizes_traversal_and_absolute_paths() {
        assert_eq!(sanitize_component(b".."), "__");
        assert_eq!(sanitize_component(b"."), "_");
        assert_eq!(sanitize_component(b""), "_");
        assert_eq!(sanitize_component(b"/etc/passwd"), "_etc_passwd");
        assert_eq!(sanitize_component(b"..\\..\\boot.ini"), ".._.._boot.ini");
        assert_eq!(sanitize_component(b"C:"), "C_");
        assert_eq!(sanitize_component(b"a\0b"), "a_b");
    }

    #[test]
    fn defuses_windows_special_names() {
        assert_eq!(sanitize_component(b"CON"), "_CON");
        assert_eq!(sanitize_component(b"nul.txt"), "_nul.txt");
        assert_eq!(sanitize_component(b"com1.tar.gz"), "_com1.tar.gz");
        assert_eq!(sanitize_component(b"console"), "console");
        assert_eq!(sanitize_component(b"name. "), "name__");
    }

    #[test]
    fn keeps_ordinary_names_and_unicode() {
        for name in ["Season 1", "ep01.mkv", ".hidden", "Ünïcødé 日本語", "a..b"] {
            assert_eq!(sanitize_component(name.as_bytes()), name);
            assert!(is_safe_component(name));
        }
    }

    #[test]
    fn numbers_go_before_the_extension_and_stay_safe() {
        assert_eq!(numbered("bar.txt", 1), "bar.1.txt");
        assert_eq!(numbered("a.tar.gz", 12), "a.tar.12.gz");
        assert_eq!(numbered("bar", 2), "bar.2");
        assert_eq!(numbered(".hidden", 1), ".1.hidden");
        let long = format!("{}.mkv", "x".repeat(236));
        let renamed = numbered(&long, 500);
        assert!(renamed.len() < MAX_COMPONENT_BYTES && renamed.ends_with("x.500.mkv"));
        let giant_ext = format!("a.{}", "é".repeat(119));
        let renamed = numbered(&giant_ext, 7);
        assert!(renamed.starts_with(".7.é") && is_safe_component(&renamed));
        // A stem cut down to a device name is defused, keeping the number.
        let device = numbered(&format!("CONXY.{}", "t".repeat(233)), 1);
        assert!(device.starts_with("_CON.1.t") && is_safe_component(&device));
    }

    #[test]
    fn replaces_invalid_utf8_and_bounds_length() {
        assert_eq!(sanitize_component(b"caf\xe9"), "caf\u{fffd}");
        let long = "é".repeat(200); // 400 bytes
        let safe = sanitize_component(long.as_bytes());
        assert!(safe.len() <= MAX_COMPONENT_BYTES && safe.chars().all(|c| c == 'é'));
    }
}
