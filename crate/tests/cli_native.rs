//! `seedcast seed` and `seedcast download` on the command line: usage, help and bad arguments.
//! (Seeding and downloading themselves are tested with the native driver.)

mod cli_support;
use cli_support::{TempDir, assert_clean_failure, seedcast, stdout};

#[test]
fn seed_and_download_have_their_own_help() {
    for args in [&["seed", "--help"][..], &["seed", "some/path", "-h"]] {
        let help = stdout(&seedcast(args));
        assert!(help.starts_with("seedcast seed"), "{help}");
        assert!(help.contains("--torrent-out FILE") && help.contains("--upload-limit"));
        assert!(help.contains("--creator-key") && help.contains("--piece-length"));
    }
    let help = stdout(&seedcast(&["download", "--help"]));
    assert!(help.starts_with("seedcast download"), "{help}");
    assert!(help.contains("-o, --output DIR") && help.contains("--exit-when-done"));
    let general = stdout(&seedcast(&["--help"]));
    assert!(
        general.contains("seedcast seed PATH") && general.contains("seedcast download (MAGNET")
    );
}

#[test]
fn bad_seed_and_download_arguments_fail_with_one_error_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["seed"], "seed needs a PATH"),
        (&["seed", "a", "b"], "seed takes one PATH"),
        (&["seed", "a", "--bogus"], "unknown option `--bogus`"),
        (&["seed", "a", "--tracker"], "--tracker needs a value"),
        (
            &["seed", "a", "--upload-limit", "fast"],
            "--upload-limit `fast`",
        ),
        (&["seed", "a", "--upload-limit=0"], "--upload-limit `0`"),
        (
            &["seed", "a", "--piece-length", "big"],
            "--piece-length `big`",
        ),
        (
            &["seed", "a", "--creator-name", "x"],
            "--creator-name needs",
        ),
        (
            &["seed", "a", "--creator-signature", "0x00"],
            "--creator-signature",
        ),
        (
            &["seed", "a", "--web-seed", "http://x/"],
            "unknown option `--web-seed`",
        ),
        (
            &["download"],
            "download needs a magnet link or torrent file",
        ),
        (&["download", "a", "b"], "download takes one"),
        (&["download", "a", "-o"], "--output needs a value"),
        (
            &["download", "a", "--exit-when-done=yes"],
            "--exit-when-done takes no value",
        ),
        (
            &["download", "a", "--upload-limit", "-5"],
            "--upload-limit `-5`",
        ),
        (&["download", "a", "--name", "x"], "unknown option `--name`"),
    ];
    for (args, expected) in cases {
        let line = assert_clean_failure(&seedcast(args), 2);
        assert!(line.contains(expected), "{args:?}: {line}");
    }
}

#[test]
fn seed_with_an_external_creator_address_prints_the_typed_data_to_sign() {
    let dir = TempDir::new();
    std::fs::write(dir.path("f.bin"), b"some bytes").unwrap();
    let address = "0x00000000000000000000000000000000000000aa";
    let out = stdout(&seedcast(&[
        "seed",
        &dir.path("f.bin"),
        "--creator-address",
        address,
        "--creator-name",
        "Ada",
    ]));
    assert_eq!(out.lines().count(), 1, "{out}");
    let typed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(typed["primaryType"], "CreatorRecord", "{typed}");
    assert_eq!(typed["message"]["name"], "Ada");
    // The same torrent `create` would sign.
    let create = stdout(&seedcast(&[
        "create",
        &dir.path("f.bin"),
        "-o",
        &dir.path("f.torrent"),
        "--creator-address",
        address,
        "--creator-name",
        "Ada",
    ]));
    assert_eq!(out, create);
}
