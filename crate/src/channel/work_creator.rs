use super::ChannelError;
use crate::creator::{Address, CreatorStatus};
use crate::metainfo::Info;

/// A work may join `channel_address`'s channel unless its torrent says otherwise: a torrent
/// without a creator record is fine; one with a record must carry a record that verifies
/// and names the same address (else a channel could pass off another creator's work, and the
/// page would show two creators for one video).
pub fn check_work_creator(work_info: &Info, channel_address: &Address) -> Result<(), ChannelError> {
    let wrong = |reason: String| ChannelError::WrongCreator {
        work: work_info.name.clone(),
        reason,
    };
    match work_info.creator_status() {
        None => Ok(()),
        Some(CreatorStatus::Verified { address, .. }) if address == *channel_address => Ok(()),
        Some(CreatorStatus::Verified { address, .. }) => Err(wrong(format!(
            "its torrent's creator record names {address}, not this channel's {channel_address}"
        ))),
        Some(CreatorStatus::Unverified { reason }) => Err(wrong(format!(
            "its torrent's creator record does not verify ({reason})"
        ))),
    }
}
