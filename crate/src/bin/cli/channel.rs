//! `seedcast channel …`: publish works to a creator's channel on a seedcast-signal server,
//! show a channel, and sign or verify manifest files locally. The channel format and every
//! check live in `seedcast::channel`; this file is arguments, files and HTTP.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use seedcast::channel::{
    Channel, ChannelError, MAX_MANIFEST_BYTES, MAX_POSTER_BYTES, SignedChannel, Work,
    check_work_creator, poster_data_uri,
};
use seedcast::creator::{Address, CreatorStatus, Signature};
use serde_json::Value as Json;

use super::http;
use super::{
    Args, CliError, is_flag, print_stdout, printable, read_key_file, read_torrent, unknown_flag,
};

pub(super) enum ChannelCommand {
    Add(AddCommand),
    Show {
        server: String,
        address: Address,
        json: bool,
    },
    Sign {
        manifest: PathBuf,
        how: SignWith,
    },
    Verify {
        manifest: PathBuf,
        json: bool,
    },
}

pub(super) struct AddCommand {
    key: PathBuf,
    server: String,
    name: Option<String>,
    title: Option<String>,
    poster: Option<PathBuf>,
    torrents: Vec<PathBuf>,
}

pub(super) enum SignWith {
    Key(PathBuf),
    /// A signature made elsewhere (a wallet) over the typed data `TypedData` printed.
    Signature(Signature),
    TypedData,
}

fn usage(text: impl Into<String>) -> CliError {
    CliError::Usage(text.into())
}

fn failed(text: impl Into<String>) -> CliError {
    CliError::Failed(text.into())
}

/// `http://host[:port][/prefix]` or `https://…`, without a trailing slash.
fn server_url(text: String) -> Result<String, CliError> {
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err(usage("--server must be an http:// or https:// URL"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

pub(super) fn parse(mut args: Args) -> Result<ChannelCommand, CliError> {
    let sub = args
        .next()
        .ok_or_else(|| usage("channel needs a subcommand: add, show, sign or verify"))?;
    let mut key = None;
    let mut server = None;
    let mut name = None;
    let mut title = None;
    let mut poster = None;
    let mut signature = None;
    let mut typed_data = false;
    let mut json = false;
    let mut positional: Vec<OsString> = Vec::new();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--key") => key = Some(PathBuf::from(args.value_for("--key")?)),
            Some("--server") => server = Some(server_url(args.text_for("--server")?)?),
            Some("--name") => name = Some(args.text_for("--name")?),
            Some("--title") => title = Some(args.text_for("--title")?),
            Some("--poster") => poster = Some(PathBuf::from(args.value_for("--poster")?)),
            Some("--signature") => {
                let text = args.text_for("--signature")?;
                signature = Some(
                    Signature::parse_hex(&text).map_err(|e| usage(format!("--signature: {e}")))?,
                );
            }
            Some("--typed-data") => {
                args.no_value("--typed-data")?;
                typed_data = true;
            }
            Some("--json") => {
                args.no_value("--json")?;
                json = true;
            }
            _ if is_flag(&arg) => return Err(unknown_flag(&arg)),
            _ => positional.push(arg),
        }
    }
    // Each subcommand takes only its own options.
    let given = |flags: &[(&str, bool)], allowed: &[&str]| {
        flags
            .iter()
            .find(|(flag, set)| *set && !allowed.contains(flag))
            .map_or(Ok(()), |(flag, _)| {
                Err(usage(format!("{flag} does not apply here")))
            })
    };
    let flags = [
        ("--key", key.is_some()),
        ("--server", server.is_some()),
        ("--name", name.is_some()),
        ("--title", title.is_some()),
        ("--poster", poster.is_some()),
        ("--signature", signature.is_some()),
        ("--typed-data", typed_data),
        ("--json", json),
    ];
    let one_path =
        |positional: Vec<OsString>, what: &str| match <[OsString; 1]>::try_from(positional) {
            Ok([path]) => Ok(PathBuf::from(path)),
            Err(_) => Err(usage(format!("expected exactly one {what}"))),
        };
    match sub.to_str() {
        Some("add") => {
            given(
                &flags,
                &["--key", "--server", "--name", "--title", "--poster"],
            )?;
            let torrents: Vec<PathBuf> = positional.into_iter().map(PathBuf::from).collect();
            if torrents.is_empty() {
                return Err(usage("channel add needs at least one TORRENT"));
            }
            if title.is_some() && torrents.len() > 1 {
                return Err(usage("--title names one work: give exactly one TORRENT"));
            }
            Ok(ChannelCommand::Add(AddCommand {
                key: key.ok_or_else(|| usage("channel add needs --key KEYFILE"))?,
                server: server.ok_or_else(|| usage("channel add needs --server URL"))?,
                name,
                title,
                poster,
                torrents,
            }))
        }
        Some("show") => {
            given(&flags, &["--server", "--json"])?;
            let address = one_path(positional, "ADDRESS")?;
            let address = Address::parse(&address.to_string_lossy())
                .map_err(|e| usage(format!("ADDRESS: {e}")))?;
            Ok(ChannelCommand::Show {
                server: server.ok_or_else(|| usage("channel show needs --server URL"))?,
                address,
                json,
            })
        }
        Some("sign") => {
            given(&flags, &["--key", "--signature", "--typed-data"])?;
            let how = match (key, signature, typed_data) {
                (Some(key), None, false) => SignWith::Key(key),
                (None, Some(signature), false) => SignWith::Signature(signature),
                (None, None, true) => SignWith::TypedData,
                _ => {
                    return Err(usage(
                        "channel sign needs one of --key, --signature or --typed-data",
                    ));
                }
            };
            Ok(ChannelCommand::Sign {
                manifest: one_path(positional, "MANIFEST.json")?,
                how,
            })
        }
        Some("verify") => {
            given(&flags, &["--json"])?;
            Ok(ChannelCommand::Verify {
                manifest: one_path(positional, "MANIFEST.json")?,
                json,
            })
        }
        _ => Err(usage(format!(
            "unknown channel subcommand `{}`",
            sub.to_string_lossy()
        ))),
    }
}

pub(super) fn run(command: ChannelCommand) -> Result<(), CliError> {
    match command {
        ChannelCommand::Add(add) => run_add(add),
        ChannelCommand::Show {
            server,
            address,
            json,
        } => run_show(&server, &address, json),
        ChannelCommand::Sign { manifest, how } => run_sign(&manifest, how),
        ChannelCommand::Verify { manifest, json } => run_verify(&manifest, json),
    }
}

fn api_url(server: &str, address: &Address) -> String {
    format!("{server}/api/channels/{address}")
}

fn page_url(server: &str, address: &Address) -> String {
    format!("{server}/@{address}")
}

/// The server's `{"error": "…"}` (or the start of whatever it sent) as one error line.
fn server_error(status: u16, body: &str) -> CliError {
    let message = serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    failed(format!(
        "server answered {status}: {}",
        printable(message.trim())
    ))
}

/// The channel the server holds for `address`: `None` when it has none (404). Parsed within
/// bounds; not verified (the caller decides what an unverified channel means).
fn fetch(server: &str, address: &Address) -> Result<Option<SignedChannel>, CliError> {
    let url = api_url(server, address);
    let response = http::get(&url).map_err(failed)?;
    match response.status {
        200 => SignedChannel::parse_json(&response.body)
            .map(Some)
            .map_err(|e| failed(format!("the server's channel for {address}: {e}"))),
        404 => Ok(None),
        status => Err(server_error(status, &response.body)),
    }
}

fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, CliError> {
    let read_error = |source| CliError::Read {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    // One byte past the bound, so an oversized file is reported rather than cut.
    File::open(path)
        .and_then(|file| file.take(max as u64 + 1).read_to_end(&mut bytes))
        .map_err(read_error)?;
    Ok(bytes)
}

fn read_poster(path: &Path) -> Result<String, CliError> {
    let bytes = read_bounded(path, MAX_POSTER_BYTES)?;
    poster_data_uri(&bytes).map_err(|e| failed(format!("{}: {e}", path.display())))
}

fn read_manifest(path: &Path) -> Result<String, CliError> {
    let bytes = read_bounded(path, MAX_MANIFEST_BYTES)?;
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(failed(format!(
            "{}: {}",
            path.display(),
            ChannelError::TooLarge { bytes: bytes.len() }
        )));
    }
    String::from_utf8(bytes).map_err(|_| failed(format!("{}: not UTF-8 text", path.display())))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn run_add(command: AddCommand) -> Result<(), CliError> {
    let key = read_key_file(&command.key)?;
    let address = key.address();
    let poster = command.poster.as_deref().map(read_poster).transpose()?;
    // Every torrent is read and checked before anything is sent.
    let mut torrents = Vec::with_capacity(command.torrents.len());
    for path in &command.torrents {
        let torrent = read_torrent(path)?;
        check_work_creator(&torrent.info, &address)
            .map_err(|e| failed(format!("{}: {e}", path.display())))?;
        torrents.push(torrent);
    }

    let mut channel = match fetch(&command.server, &address)? {
        Some(current) => {
            current.verify().map_err(|e| {
                failed(format!(
                    "the server's channel for {address} does not verify ({e}); not building on it"
                ))
            })?;
            if current.channel.address != address {
                return Err(failed(format!(
                    "the server answered with the channel of {}, not {address}",
                    current.channel.address
                )));
            }
            current.channel
        }
        None => {
            // A new channel is named after the creator records, if the torrents carry one.
            let recorded = torrents.iter().find_map(|t| match t.info.creator_status() {
                Some(CreatorStatus::Verified { name, .. }) => Some(name),
                _ => None,
            });
            Channel::empty(address, &recorded.unwrap_or_default())
        }
    };
    if let Some(name) = command.name {
        channel.name = name;
    }
    let published = now();
    for torrent in &torrents {
        channel.upsert_work(Work::from_torrent(
            torrent,
            command.title.as_deref(),
            poster.clone(),
            published,
        ));
    }
    channel.sequence += 1;
    channel.validate().map_err(|e| match e {
        ChannelError::TooLarge { bytes } => failed(format!(
            "the channel would be {bytes} bytes, over the {MAX_MANIFEST_BYTES}-byte limit: remove works or use smaller posters"
        )),
        other => failed(other.to_string()),
    })?;
    let signed = channel.sign(&key);

    let url = api_url(&command.server, &address);
    let response = http::put_json(&url, &signed.to_json()).map_err(failed)?;
    if !(200..300).contains(&response.status) {
        return Err(server_error(response.status, &response.body));
    }
    let mut out = format!(
        "channel {address} {:?}: sequence {}, {} works\n",
        printable(&signed.channel.name),
        signed.channel.sequence,
        signed.channel.works.len()
    );
    for torrent in &torrents {
        out.push_str(&format!(
            "added {} ({})\n",
            printable(&torrent.info.name),
            torrent.info_hash
        ));
    }
    out.push_str(&page_url(&command.server, &address));
    out.push('\n');
    print_stdout(&out)
}

/// Why a channel cannot be trusted as `expected`'s, if it cannot.
fn verification(signed: &SignedChannel, expected: Option<&Address>) -> Result<(), String> {
    signed.verify().map_err(|e| e.to_string())?;
    match expected {
        Some(address) if *address != signed.channel.address => Err(format!(
            "asked for the channel of {address}, got the channel of {}",
            signed.channel.address
        )),
        _ => Ok(()),
    }
}

fn report(
    signed: &SignedChannel,
    verified: &Result<(), String>,
    json: bool,
    page: Option<String>,
) -> String {
    if json {
        // The manifest as served, with the verdict appended (keys keep the manifest's order).
        let manifest = signed.to_json();
        let error = verified
            .as_ref()
            .err()
            .map_or(Json::Null, |e| Json::from(e.as_str()));
        return format!(
            "{},\"verified\":{},\"error\":{error}}}\n",
            &manifest[..manifest.len() - 1],
            verified.is_ok()
        );
    }
    let channel = &signed.channel;
    let mut out = format!(
        "name:      {}\naddress:   {}\nverified:  {}\nsequence:  {}\nworks:     {}\n",
        printable(&channel.name),
        channel.address,
        match verified {
            Ok(()) => "yes".to_owned(),
            Err(reason) => format!(
                "NO — {} (nothing here is vouched for by {})",
                printable(reason),
                channel.address
            ),
        },
        channel.sequence,
        channel.works.len()
    );
    for work in &channel.works {
        out.push_str(&format!(
            "  {}\n    {}\n",
            printable(&work.title),
            printable(&work.magnet)
        ));
    }
    if let Some(page) = page {
        out.push_str(&format!("page:      {page}\n"));
    }
    out
}

fn run_show(server: &str, address: &Address, json: bool) -> Result<(), CliError> {
    let signed = fetch(server, address)?
        .ok_or_else(|| failed(format!("{server} has no channel for {address}")))?;
    let verified = verification(&signed, Some(address));
    print_stdout(&report(
        &signed,
        &verified,
        json,
        Some(page_url(server, address)),
    ))
}

fn run_verify(path: &Path, json: bool) -> Result<(), CliError> {
    let text = read_manifest(path)?;
    let signed =
        SignedChannel::parse_json(&text).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let verified = verification(&signed, None);
    print_stdout(&report(&signed, &verified, json, None))?;
    verified.map_err(|e| failed(format!("{}: {e}", path.display())))
}

fn run_sign(path: &Path, how: SignWith) -> Result<(), CliError> {
    let text = read_manifest(path)?;
    let channel =
        Channel::parse_json(&text).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let signed = match how {
        SignWith::TypedData => return print_stdout(&format!("{}\n", channel.typed_data_json())),
        SignWith::Key(key) => {
            let key = read_key_file(&key)?;
            if key.address() != channel.address {
                return Err(failed(format!(
                    "{}: the manifest is {}'s channel; the key is {}'s",
                    path.display(),
                    channel.address,
                    key.address()
                )));
            }
            channel.sign(&key)
        }
        SignWith::Signature(signature) => channel
            .with_signature(signature)
            .map_err(|e| failed(format!("{}: {e}", path.display())))?,
    };
    print_stdout(&format!("{}\n", signed.to_json()))
}
