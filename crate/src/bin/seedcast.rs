//! The `seedcast` command line.
//!
//! Each subcommand is a `parse_*` function turning arguments into a typed command and a
//! `run_*` function doing the work, so `seed` and `download` slot in beside `create` and
//! `info`. Errors print as ONE line starting with `error:` on stderr; exit code 2 means
//! the command line was wrong, 1 that the work failed.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    mod channel;
    mod http;

    use std::ffi::OsString;
    use std::fs::{self, File};
    use std::io::{self, Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use seedcast::create::{CreateOptions, CreatorOptions};
    use seedcast::creator::{Address, CreatorKey, CreatorStatus, Signature};
    use seedcast::magnet::{Magnet, MagnetError};
    use seedcast::metainfo::{MAX_TORRENT_BYTES, Metainfo, MetainfoError};
    use seedcast::native::args::{
        CreatorArgs, CreatorSource, DownloadArgs, KeyFileError, SeedArgs,
    };
    use seedcast::native::progress::{human_size, printable};
    use seedcast::native::run::RunError;
    use seedcast::native::{CreateFromPathError, create_from_path, create_unsigned_from_path};
    use serde_json::{Value as Json, json};
    use thiserror::Error;

    const VERSION: &str = env!("CARGO_PKG_VERSION");

    const USAGE: &str = "\
seedcast — a BitTorrent peer for the browser and the command line

USAGE:
    seedcast create PATH -o OUT.torrent [OPTIONS]
    seedcast seed PATH [--tracker URL]... [--name N] [--torrent-out FILE]
                       [--upload-limit BYTES_PER_S] [CREATE OPTIONS]
    seedcast download (MAGNET | FILE.torrent) [-o DIR] [--tracker URL]...
                       [--exit-when-done] [--upload-limit BYTES_PER_S]
    seedcast info (FILE.torrent | MAGNET) [--json]
    seedcast channel add --key KEYFILE --server URL [--name NAME] [--title TITLE]
                         [--poster IMAGE] TORRENT...
    seedcast channel show --server URL ADDRESS [--json]
    seedcast channel sign MANIFEST.json (--key KEYFILE | --typed-data | --signature 0x..)
    seedcast channel verify MANIFEST.json [--json]
    seedcast --help | --version

CREATE OPTIONS:
    -o, --output FILE        where to write the .torrent (required)
        --tracker URL        announce URL; repeat for more (each is its own tier)
        --web-seed URL       BEP 19 web seed URL; repeat for more
        --piece-length BYTES power of two from 16384 to 268435456 (default: automatic,
                             about 1,000-2,000 pieces, between 16 KiB and 16 MiB)
        --name NAME          torrent name (default: the file or folder name)
        --private            set the private flag (BEP 27)
        --comment TEXT       free-text comment
        --creator-key FILE   sign a creator record into the torrent with the private key in
                             FILE (0x and 64 hex digits); see Creators in the README
        --creator-name NAME  the creator's display name (UTF-8, at most 64 bytes)
        --creator-address 0x..  sign elsewhere (e.g. a wallet): without --creator-signature,
                             print the EIP-712 typed data to sign (one JSON line) and write
                             nothing; with it, embed that signature (it must verify)
        --creator-signature 0x..  the 65-byte signature of that typed data
    Output is deterministic: no creation date is written.

SEED and DOWNLOAD: see `seedcast seed --help` and `seedcast download --help`.

INFO OPTIONS:
        --json               print one JSON object: info_hash, name, piece_length,
                             num_pieces, length, private, files [{path, length, padding}],
                             trackers, web_seeds, comment, created_by, creation_date, magnet,
                             creator (null, or {address, name, verified, typed_data,
                             signature, error}).
                             For a magnet link, fields that need the metadata are null.

CHANNEL (a creator's signed list of works, served by seedcast-signal at URL/@ADDRESS):
    add      fetch KEYFILE's channel from URL (or start one), add each TORRENT as a work
             (replacing one with the same info hash), bump the sequence, sign, upload, and
             print the page URL (last line). A torrent whose creator record names another
             address is refused.
        --name NAME          the channel's display name (default: kept, or the torrents'
                             creator record name for a new channel)
        --title TITLE        the work's title (one TORRENT only; default: the torrent's name)
        --poster IMAGE       a JPEG, PNG or WebP poster for the works (at most about 24 KiB)
    show     fetch, verify and print a channel; --json prints the manifest with
             \"verified\" and \"error\" added
    sign     sign a manifest file (with or without a signature) with KEYFILE and print it;
             --typed-data prints the EIP-712 typed data to sign elsewhere (a wallet);
             --signature embeds that signature (it must verify)
    verify   check a manifest file: bounds and signature (exit 1 if it does not verify)
";

    /// The network settings `seed` and `download` read (see `native::rtc::RtcConfig::from_env`).
    macro_rules! network_env_usage {
        () => {
            "
ENVIRONMENT (WebRTC network settings):
    SEEDCAST_UDP_BIND      comma-separated IP:PORT to bind (default 0.0.0.0:0,127.0.0.1:0)
    SEEDCAST_MDNS          query (resolve browsers' .local candidates; default) or off
    SEEDCAST_ICE_SERVERS   comma-separated stun:/turn: URLs (default: none)
"
        };
    }

    const SEED_USAGE: &str = concat!(
        "\
seedcast seed — share a file or folder with browsers and other peers

USAGE:
    seedcast seed PATH [--tracker URL]... [--name N] [--torrent-out FILE]
                       [--upload-limit BYTES_PER_S] [CREATOR OPTIONS] [--piece-length BYTES]

Hashes PATH (one file or one folder: one torrent), writes --torrent-out, prints the magnet
link as the only line of stdout, then seeds until interrupted (Ctrl-C or SIGTERM; exit 0).
Progress and logs go to stderr.

OPTIONS:
        --tracker URL        WebTorrent tracker (wss://...); repeat for more. Each goes into
                             the torrent and the magnet link (tr=)
        --name NAME          torrent name (default: the file or folder name)
        --torrent-out FILE   write the .torrent here before seeding starts
        --upload-limit BYTES_PER_S  upload at most this many bytes per second in total
        --piece-length BYTES power of two from 16384 to 268435456 (default: automatic)
        --creator-key FILE, --creator-name NAME, --creator-address 0x..,
        --creator-signature 0x..  sign a creator record, as `seedcast create` does
                             (--creator-address alone prints the typed data and exits)
",
        network_env_usage!()
    );

    const DOWNLOAD_USAGE: &str = concat!(
        "\
seedcast download — download a torrent, then seed it

USAGE:
    seedcast download (MAGNET | FILE.torrent) [-o DIR] [--tracker URL]...
                      [--exit-when-done] [--upload-limit BYTES_PER_S]

Downloads into DIR/NAME (a folder torrent: DIR/NAME/PATH...), verifying every piece, then
seeds until interrupted (Ctrl-C or SIGTERM; exit 0). Running it again over a finished or
partial download resumes without downloading again (state in DIR/.seedcast/).

OPTIONS:
    -o, --output DIR         where to put the files (default: the current folder)
        --tracker URL        also announce on this tracker; repeat for more
        --exit-when-done     exit 0 once every piece is verified and written
        --upload-limit BYTES_PER_S  upload at most this many bytes per second in total
",
        network_env_usage!()
    );

    #[derive(Debug, Error)]
    enum CliError {
        #[error("{0} (see `seedcast --help`)")]
        Usage(String),
        #[error("{}: {source}", path.display())]
        Read { path: PathBuf, source: io::Error },
        #[error("{}: {source}", path.display())]
        Write { path: PathBuf, source: io::Error },
        #[error("{}: {source}", path.display())]
        Torrent {
            path: PathBuf,
            source: MetainfoError,
        },
        #[error(transparent)]
        Magnet(#[from] MagnetError),
        #[error(transparent)]
        Create(#[from] CreateFromPathError),
        #[error(transparent)]
        KeyFile(#[from] KeyFileError),
        #[error(transparent)]
        Run(#[from] RunError),
        /// Anything else that failed, already one line.
        #[error("{0}")]
        Failed(String),
    }

    impl CliError {
        fn exit_code(&self) -> u8 {
            match self {
                Self::Usage(_) => 2,
                _ => 1,
            }
        }
    }

    enum Command {
        Help(&'static str),
        Version,
        // Boxed: CreateOptions is large (it can hold a signing key).
        Create(Box<CreateCommand>),
        Info(InfoCommand),
        Channel(channel::ChannelCommand),
        Seed(Box<SeedArgs>),
        Download(DownloadArgs),
    }

    struct CreateCommand {
        path: PathBuf,
        output: PathBuf,
        options: CreateOptions,
        creator: Option<CreatorArgs>,
    }

    struct InfoCommand {
        source: OsString,
        json: bool,
    }

    pub fn main() -> ExitCode {
        // Last resort: a bug must still end in one `error:` line, not a backtrace.
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            eprintln!("error: internal error: {}", one_line(&message));
        }));
        let result = parse(std::env::args_os().skip(1).collect()).and_then(run);
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {}", one_line(&error.to_string()));
                ExitCode::from(error.exit_code())
            }
        }
    }

    fn one_line(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn run(command: Command) -> Result<(), CliError> {
        match command {
            Command::Help(usage) => print_stdout(usage),
            Command::Version => print_stdout(&format!("seedcast {VERSION}\n")),
            Command::Create(create) => run_create(*create),
            Command::Info(info) => run_info(info),
            Command::Channel(command) => channel::run(command),
            Command::Seed(args) => run_seed(*args),
            Command::Download(args) => Ok(seedcast::native::run::download(args)?),
        }
    }

    /// Writing to a closed pipe (`seedcast info x | head -1`) is not worth an error.
    fn print_stdout(text: &str) -> Result<(), CliError> {
        let _ = io::stdout().lock().write_all(text.as_bytes());
        Ok(())
    }

    // ---- argument parsing ----------------------------------------------------------------

    /// Walks the arguments, splitting `--flag=value` into flag and value.
    struct Args {
        items: std::vec::IntoIter<OsString>,
        pending_value: Option<OsString>,
    }

    impl Args {
        fn new(items: Vec<OsString>) -> Self {
            Self {
                items: items.into_iter(),
                pending_value: None,
            }
        }

        fn next(&mut self) -> Option<OsString> {
            let item = self.items.next()?;
            if let Some(text) = item.to_str() {
                if let Some((flag, value)) =
                    text.split_once('=').filter(|(f, _)| f.starts_with("--"))
                {
                    self.pending_value = Some(value.into());
                    return Some(flag.into());
                }
            }
            Some(item)
        }

        fn value_for(&mut self, flag: &str) -> Result<OsString, CliError> {
            self.pending_value
                .take()
                .or_else(|| self.items.next())
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        }

        fn text_for(&mut self, flag: &str) -> Result<String, CliError> {
            self.value_for(flag)?
                .into_string()
                .map_err(|_| CliError::Usage(format!("{flag} value is not valid UTF-8")))
        }

        fn no_value(&mut self, flag: &str) -> Result<(), CliError> {
            match self.pending_value.take() {
                Some(_) => Err(CliError::Usage(format!("{flag} takes no value"))),
                None => Ok(()),
            }
        }
    }

    fn parse(items: Vec<OsString>) -> Result<Command, CliError> {
        // `--help` anywhere (`seedcast channel add --help`) shows the usage, as users expect:
        // the command's own for `seed` and `download`.
        if items.iter().any(|a| a == "-h" || a == "--help") {
            return Ok(Command::Help(match items[0].to_str() {
                Some("seed") => SEED_USAGE,
                Some("download") => DOWNLOAD_USAGE,
                _ => USAGE,
            }));
        }
        let mut args = Args::new(items);
        let Some(first) = args.next() else {
            return Err(CliError::Usage("no command given".into()));
        };
        match first.to_str() {
            Some("-h" | "--help" | "help") => Ok(Command::Help(USAGE)),
            Some("-V" | "--version") => Ok(Command::Version),
            Some("create") => parse_create(args),
            Some("info") => parse_info(args),
            Some("seed") => parse_seed(args),
            Some("download") => parse_download(args),
            Some("channel") => channel::parse(args).map(Command::Channel),
            _ => Err(CliError::Usage(format!(
                "unknown command `{}`",
                first.to_string_lossy()
            ))),
        }
    }

    fn unknown_flag(flag: &OsString) -> CliError {
        CliError::Usage(format!("unknown option `{}`", flag.to_string_lossy()))
    }

    fn is_flag(arg: &OsString) -> bool {
        arg.to_str()
            .is_some_and(|a| a.starts_with('-') && a.len() > 1)
    }

    /// The creator options `create` and `seed` share, collected flag by flag.
    #[derive(Default)]
    struct CreatorFlags {
        key_file: Option<PathBuf>,
        name: Option<String>,
        address: Option<Address>,
        signature: Option<Signature>,
    }

    impl CreatorFlags {
        /// Takes `flag` (and its value) if it is a creator option; `false` if it is not one.
        fn take(&mut self, flag: &str, args: &mut Args) -> Result<bool, CliError> {
            match flag {
                "--creator-key" => {
                    self.key_file = Some(PathBuf::from(args.value_for("--creator-key")?))
                }
                "--creator-name" => self.name = Some(args.text_for("--creator-name")?),
                "--creator-address" => {
                    let text = args.text_for("--creator-address")?;
                    let address = Address::parse(&text)
                        .map_err(|e| CliError::Usage(format!("--creator-address: {e}")))?;
                    self.address = Some(address);
                }
                "--creator-signature" => {
                    let text = args.text_for("--creator-signature")?;
                    let signature = Signature::parse_hex(&text)
                        .map_err(|e| CliError::Usage(format!("--creator-signature: {e}")))?;
                    self.signature = Some(signature);
                }
                _ => return Ok(false),
            }
            Ok(true)
        }

        fn finish(self) -> Result<Option<CreatorArgs>, CliError> {
            let source = match (self.key_file, self.address, self.signature) {
                (None, None, None) => None,
                (Some(file), None, None) => Some(CreatorSource::KeyFile(file)),
                (None, Some(address), signature) => {
                    Some(CreatorSource::External(address, signature))
                }
                (None, None, Some(_)) => {
                    return Err(CliError::Usage(
                        "--creator-signature needs --creator-address".into(),
                    ));
                }
                (Some(_), _, _) => {
                    return Err(CliError::Usage(
                        "--creator-key signs here; it cannot be combined with --creator-address or --creator-signature".into(),
                    ));
                }
            };
            match (source, self.name) {
                (Some(source), name) => Ok(Some(CreatorArgs {
                    name: name.unwrap_or_default(),
                    source,
                })),
                (None, Some(_)) => Err(CliError::Usage(
                    "--creator-name needs --creator-key or --creator-address".into(),
                )),
                (None, None) => Ok(None),
            }
        }
    }

    fn parse_piece_length(args: &mut Args) -> Result<u32, CliError> {
        let text = args.text_for("--piece-length")?;
        text.parse().map_err(|_| {
            CliError::Usage(format!("--piece-length `{text}` is not a number of bytes"))
        })
    }

    fn parse_upload_limit(args: &mut Args) -> Result<u64, CliError> {
        let text = args.text_for("--upload-limit")?;
        text.parse().ok().filter(|&limit| limit > 0).ok_or_else(|| {
            CliError::Usage(format!(
                "--upload-limit `{text}` is not a positive number of bytes per second"
            ))
        })
    }

    fn parse_create(mut args: Args) -> Result<Command, CliError> {
        let mut path = None;
        let mut output = None;
        let mut options = CreateOptions {
            created_by: Some(format!("seedcast/{VERSION}")),
            ..CreateOptions::default()
        };
        let mut creator = CreatorFlags::default();
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("-h" | "--help") => return Ok(Command::Help(USAGE)),
                Some("-o" | "--output") => {
                    output = Some(PathBuf::from(args.value_for("--output")?))
                }
                Some("--tracker") => options.trackers.push(args.text_for("--tracker")?),
                Some("--web-seed") => options.web_seeds.push(args.text_for("--web-seed")?),
                Some("--name") => options.name = args.text_for("--name")?,
                Some("--comment") => options.comment = Some(args.text_for("--comment")?),
                Some("--piece-length") => {
                    options.piece_length = Some(parse_piece_length(&mut args)?)
                }
                Some("--private") => {
                    args.no_value("--private")?;
                    options.private = true;
                }
                Some(flag) if creator.take(flag, &mut args)? => {}
                _ if is_flag(&arg) => return Err(unknown_flag(&arg)),
                _ if path.is_none() => path = Some(PathBuf::from(arg)),
                _ => return Err(CliError::Usage("create takes one PATH".into())),
            }
        }
        let path = path.ok_or_else(|| CliError::Usage("create needs a PATH".into()))?;
        let output = output.ok_or_else(|| CliError::Usage("create needs -o OUT.torrent".into()))?;
        let creator = creator.finish()?;
        Ok(Command::Create(Box::new(CreateCommand {
            path,
            output,
            options,
            creator,
        })))
    }

    fn parse_seed(mut args: Args) -> Result<Command, CliError> {
        let mut path = None;
        let mut seed = SeedArgs {
            path: PathBuf::new(),
            trackers: Vec::new(),
            name: None,
            torrent_out: None,
            upload_limit: None,
            creator: None,
            piece_length: None,
        };
        let mut creator = CreatorFlags::default();
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("--tracker") => seed.trackers.push(args.text_for("--tracker")?),
                Some("--name") => seed.name = Some(args.text_for("--name")?),
                Some("--torrent-out") => {
                    seed.torrent_out = Some(PathBuf::from(args.value_for("--torrent-out")?))
                }
                Some("--upload-limit") => seed.upload_limit = Some(parse_upload_limit(&mut args)?),
                Some("--piece-length") => seed.piece_length = Some(parse_piece_length(&mut args)?),
                Some(flag) if creator.take(flag, &mut args)? => {}
                _ if is_flag(&arg) => return Err(unknown_flag(&arg)),
                _ if path.is_none() => path = Some(PathBuf::from(arg)),
                _ => return Err(CliError::Usage("seed takes one PATH".into())),
            }
        }
        seed.path = path.ok_or_else(|| CliError::Usage("seed needs a PATH".into()))?;
        seed.creator = creator.finish()?;
        Ok(Command::Seed(Box::new(seed)))
    }

    fn parse_download(mut args: Args) -> Result<Command, CliError> {
        let mut source = None;
        let mut download = DownloadArgs {
            source: String::new(),
            out_dir: PathBuf::from("."),
            trackers: Vec::new(),
            exit_when_done: false,
            upload_limit: None,
        };
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("-o" | "--output") => {
                    download.out_dir = PathBuf::from(args.value_for("--output")?)
                }
                Some("--tracker") => download.trackers.push(args.text_for("--tracker")?),
                Some("--exit-when-done") => {
                    args.no_value("--exit-when-done")?;
                    download.exit_when_done = true;
                }
                Some("--upload-limit") => {
                    download.upload_limit = Some(parse_upload_limit(&mut args)?)
                }
                _ if is_flag(&arg) => return Err(unknown_flag(&arg)),
                _ if source.is_none() => source = Some(arg),
                _ => {
                    return Err(CliError::Usage(
                        "download takes one magnet link or torrent file".into(),
                    ));
                }
            }
        }
        let source = source.ok_or_else(|| {
            CliError::Usage("download needs a magnet link or torrent file".into())
        })?;
        download.source = source
            .into_string()
            .map_err(|_| CliError::Usage("the torrent file path is not valid UTF-8".into()))?;
        Ok(Command::Download(download))
    }

    fn parse_info(mut args: Args) -> Result<Command, CliError> {
        let mut source = None;
        let mut json = false;
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("-h" | "--help") => return Ok(Command::Help(USAGE)),
                Some("--json") => {
                    args.no_value("--json")?;
                    json = true;
                }
                _ if is_flag(&arg) => return Err(unknown_flag(&arg)),
                _ if source.is_none() => source = Some(arg),
                _ => {
                    return Err(CliError::Usage(
                        "info takes one torrent file or magnet link".into(),
                    ));
                }
            }
        }
        let source = source
            .ok_or_else(|| CliError::Usage("info needs a torrent file or magnet link".into()))?;
        Ok(Command::Info(InfoCommand { source, json }))
    }

    // ---- create --------------------------------------------------------------------------

    fn run_create(mut command: CreateCommand) -> Result<(), CliError> {
        if let Some(creator) = command.creator {
            let Some(signer) = creator.signer()? else {
                return print_typed_data(&command.path, command.options, &creator);
            };
            command.options.creator = Some(CreatorOptions {
                name: creator.name,
                signer,
            });
        }
        let torrent = create_from_path(&command.path, command.options)?;
        fs::write(&command.output, torrent.to_bytes()).map_err(|source| CliError::Write {
            path: command.output.clone(),
            source,
        })?;
        print_stdout(&format!(
            "created {}\ninfo hash: {}\n{} files, {}, {} pieces of {}\n",
            command.output.display(),
            torrent.info_hash,
            torrent.info.files.len(),
            human_size(torrent.info.total_length),
            torrent.info.num_pieces(),
            human_size(u64::from(torrent.info.piece_length)),
        ))?;
        match torrent.info.creator_status() {
            Some(status) => print_stdout(&format!("creator: {}\n", creator_text(&status))),
            None => Ok(()),
        }
    }

    /// Hash first, sign later: prints what the signer (`--creator-address`) must sign.
    fn print_typed_data(
        path: &Path,
        options: CreateOptions,
        creator: &CreatorArgs,
    ) -> Result<(), CliError> {
        let CreatorSource::External(address, _) = &creator.source else {
            return Err(CliError::Failed(
                "typed data needs --creator-address".into(),
            ));
        };
        let unsigned = create_unsigned_from_path(path, options)?;
        let typed_data = unsigned.typed_data_json(address, &creator.name);
        print_stdout(&format!("{typed_data}\n"))
    }

    // ---- seed ----------------------------------------------------------------------------

    fn run_seed(args: SeedArgs) -> Result<(), CliError> {
        if let Some(creator) = &args.creator {
            if matches!(creator.source, CreatorSource::External(_, None)) {
                let options = seedcast::native::prepare::create_options(&args, None);
                return print_typed_data(&args.path, options, creator);
            }
        }
        Ok(seedcast::native::run::seed(args)?)
    }

    /// Reads a key file: one line, `0x` and 64 hex digits. Errors never show its contents.
    fn read_key_file(path: &Path) -> Result<CreatorKey, CliError> {
        Ok(seedcast::native::args::read_key_file(path)?)
    }

    fn creator_text(status: &CreatorStatus) -> String {
        match status {
            CreatorStatus::Verified { address, name } if name.is_empty() => {
                format!("{address} (verified)")
            }
            CreatorStatus::Verified { address, name } => {
                format!("{} <{address}> (verified)", printable(name))
            }
            CreatorStatus::Unverified { reason } => {
                format!("UNVERIFIED, do not trust or tip: {reason}")
            }
        }
    }

    /// `null`, or the record with everything a wallet library needs to check it alone.
    fn creator_json(torrent: &Metainfo) -> Json {
        let Some(status) = torrent.info.creator_status() else {
            return Json::Null;
        };
        let error = match &status {
            CreatorStatus::Verified { .. } => None,
            CreatorStatus::Unverified { reason } => Some(reason.to_string()),
        };
        match &torrent.info.creator {
            Some(Ok(record)) => json!({
                "address": record.address.to_checksum(),
                "name": record.name,
                "verified": error.is_none(),
                "typed_data": record.typed_data(),
                "signature": record.signature.to_hex(),
                "error": error,
            }),
            _ => json!({
                "address": null,
                "name": null,
                "verified": false,
                "typed_data": null,
                "signature": null,
                "error": error,
            }),
        }
    }

    // ---- info ----------------------------------------------------------------------------

    fn run_info(command: InfoCommand) -> Result<(), CliError> {
        let magnet_text = command.source.to_str().filter(|s| {
            s.get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("magnet:"))
        });
        let output = match magnet_text {
            Some(text) => {
                let magnet = Magnet::parse(text)?;
                if command.json {
                    json_line(&magnet_json(&magnet))
                } else {
                    magnet_text_report(&magnet)
                }
            }
            None => {
                let path = PathBuf::from(&command.source);
                let torrent = read_torrent(&path)?;
                if command.json {
                    torrent_json_line(&torrent)
                } else {
                    torrent_text_report(&torrent)
                }
            }
        };
        print_stdout(&output)
    }

    fn read_torrent(path: &Path) -> Result<Metainfo, CliError> {
        let read_error = |source| CliError::Read {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        // Read one byte past the cap so an oversized file is reported, not truncated.
        let mut bytes = Vec::new();
        file.take(MAX_TORRENT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        Metainfo::from_bytes(&bytes).map_err(|source| CliError::Torrent {
            path: path.to_owned(),
            source,
        })
    }

    fn json_line(value: &Json) -> String {
        format!("{value}\n")
    }

    /// One JSON object. `files` is written entry by entry: for a torrent of 200,000 files a
    /// `serde_json::Value` tree of them would triple the peak memory of this command.
    fn torrent_json_line(torrent: &Metainfo) -> String {
        let info = &torrent.info;
        let head = json!({
            "info_hash": torrent.info_hash.to_hex(),
            "name": info.name,
            "piece_length": info.piece_length,
            "num_pieces": info.num_pieces(),
            "length": info.total_length,
            "private": info.private,
            "trackers": torrent.trackers.iter().flatten().collect::<Vec<_>>(),
            "web_seeds": torrent.web_seeds,
            "comment": torrent.comment,
            "created_by": torrent.created_by,
            "creation_date": torrent.creation_date,
            "magnet": torrent.magnet().to_uri(),
            "creator": creator_json(torrent),
        });
        let mut out = head.to_string();
        out.pop(); // the closing brace; `files` goes last
        out.push_str(r#","files":["#);
        for (index, file) in info.files.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let entry = json!({ "path": file.path_string(), "length": file.length, "padding": file.padding });
            out.push_str(&entry.to_string());
        }
        out.push_str("]}\n");
        out
    }

    fn magnet_json(magnet: &Magnet) -> Json {
        json!({
            "info_hash": magnet.info_hash.to_hex(),
            "name": magnet.name,
            "piece_length": null,
            "num_pieces": null,
            "length": null,
            "private": null,
            "files": null,
            "trackers": magnet.trackers,
            "web_seeds": magnet.web_seeds,
            "comment": null,
            "created_by": null,
            "creation_date": null,
            "magnet": magnet.to_uri(),
            "creator": null,
        })
    }

    fn torrent_text_report(torrent: &Metainfo) -> String {
        let info = &torrent.info;
        let mut out = String::new();
        let mut line =
            |label: &str, value: &str| out.push_str(&format!("{label:<12}{}\n", printable(value)));
        line("name:", &info.name);
        line("info hash:", &torrent.info_hash.to_hex());
        line(
            "size:",
            &format!(
                "{} ({} bytes)",
                human_size(info.total_length),
                info.total_length
            ),
        );
        line(
            "pieces:",
            &format!(
                "{} x {}",
                info.num_pieces(),
                human_size(u64::from(info.piece_length))
            ),
        );
        line("private:", if info.private { "yes" } else { "no" });
        if let Some(status) = info.creator_status() {
            line("creator:", &creator_text(&status));
        }
        if let Some(comment) = &torrent.comment {
            line("comment:", comment);
        }
        if let Some(created_by) = &torrent.created_by {
            line("created by:", created_by);
        }
        if let Some(date) = torrent.creation_date {
            line("created:", &format!("{date} (Unix time)"));
        }
        for (tier, urls) in torrent.trackers.iter().enumerate() {
            line(&format!("tier {}:", tier + 1), &urls.join(" "));
        }
        for seed in &torrent.web_seeds {
            line("web seed:", seed);
        }
        line("magnet:", &torrent.magnet().to_uri());
        out.push_str(&format!("files ({}):\n", info.files.len()));
        for file in &info.files {
            let pad = if file.padding { " [padding]" } else { "" };
            let path = printable(&file.path_string());
            out.push_str(&format!("  {path} ({}){pad}\n", human_size(file.length)));
        }
        out
    }

    fn magnet_text_report(magnet: &Magnet) -> String {
        let mut out = String::new();
        let mut line =
            |label: &str, value: &str| out.push_str(&format!("{label:<12}{}\n", printable(value)));
        line(
            "name:",
            magnet
                .name
                .as_deref()
                .unwrap_or("(unknown until metadata is fetched)"),
        );
        line("info hash:", &magnet.info_hash.to_hex());
        for tracker in &magnet.trackers {
            line("tracker:", tracker);
        }
        for seed in &magnet.web_seeds {
            line("web seed:", seed);
        }
        line("magnet:", &magnet.to_uri());
        out
    }
}
