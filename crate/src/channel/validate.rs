//! Every bound of a channel, checked on parse, before signing and before verifying.

use super::json::manifest_json;
use super::poster::check_poster;
use super::{
    Channel, ChannelError, MAX_MANIFEST_BYTES, MAX_SAFE_INTEGER, MAX_TITLE_BYTES,
    MAX_WORK_MAGNET_BYTES, MAX_WORKS, Work,
};
use crate::creator::{Signature, check_name, is_hidden_char};
use crate::magnet::Magnet;
use crate::metainfo::InfoHash;

impl Channel {
    /// `Ok` when every bound holds: name (as creator names), sequence, at most [`MAX_WORKS`]
    /// works with distinct info hashes, each work's fields, and the manifest's JSON size.
    pub fn validate(&self) -> Result<(), ChannelError> {
        check_name(self.name.as_bytes()).map_err(|e| ChannelError::invalid("name", e))?;
        if self.sequence > MAX_SAFE_INTEGER {
            return Err(ChannelError::invalid("sequence", "above 2^53 - 1"));
        }
        if self.works.len() > MAX_WORKS {
            return Err(ChannelError::invalid(
                "works",
                format_args!("{} works, more than {MAX_WORKS}", self.works.len()),
            ));
        }
        for (index, work) in self.works.iter().enumerate() {
            check_work(work).map_err(|problem| {
                ChannelError::invalid(format_args!("works[{index}]"), problem)
            })?;
            if self.works[..index]
                .iter()
                .any(|w| w.info_hash == work.info_hash)
            {
                return Err(ChannelError::invalid(
                    format_args!("works[{index}]"),
                    "the same infoHash as an earlier work",
                ));
            }
        }
        // The signature's length is fixed, so any one gives the signed manifest's size.
        let bytes = manifest_json(self, Some(&Signature([0; 65]))).len();
        if bytes > MAX_MANIFEST_BYTES {
            return Err(ChannelError::TooLarge { bytes });
        }
        Ok(())
    }
}

fn check_work(work: &Work) -> Result<(), String> {
    if work.title.is_empty() || work.title.len() > MAX_TITLE_BYTES {
        return Err(format!(
            "title is {} bytes; it must be 1 to {MAX_TITLE_BYTES}",
            work.title.len()
        ));
    }
    if work.title.chars().any(is_hidden_char) {
        return Err("title contains control or bidirectional-override characters".into());
    }
    if work.magnet.len() > MAX_WORK_MAGNET_BYTES {
        return Err(format!(
            "magnet is {} bytes, longer than {MAX_WORK_MAGNET_BYTES}",
            work.magnet.len()
        ));
    }
    // A URI is printable ASCII (RFC 3986; everything else is %-escaped): no spaces, no
    // control characters that could forge lines in a terminal or a log.
    if !work.magnet.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("magnet has characters a URI cannot have (spaces, controls, non-ASCII)".into());
    }
    let magnet = Magnet::parse(&work.magnet).map_err(|e| format!("magnet: {e}"))?;
    if magnet.info_hash != InfoHash(work.info_hash) {
        return Err(format!(
            "magnet names info hash {}, not the work's {}",
            magnet.info_hash.to_hex(),
            InfoHash(work.info_hash).to_hex()
        ));
    }
    if let Some(poster) = &work.poster {
        check_poster(poster).map_err(|e| format!("poster: {e}"))?;
    }
    if work.published > MAX_SAFE_INTEGER {
        return Err("published is above 2^53 - 1".into());
    }
    Ok(())
}
