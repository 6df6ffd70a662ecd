//! The 68-byte BEP 3 handshake that opens every peer connection.
//!
//! Layout: `pstrlen=19 | "BitTorrent protocol" | reserved[8] | info_hash[20] | peer_id[20]`.

use super::WireError;

const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// BEP 10: bit 20 from the right, i.e. `reserved[5] & 0x10`.
const EXTENSION_PROTOCOL_BYTE: usize = 5;
const EXTENSION_PROTOCOL_BIT: u8 = 0x10;
/// BEP 6: the third bit from the right, i.e. `reserved[7] & 0x04`.
const FAST_BYTE: usize = 7;
const FAST_BIT: u8 = 0x04;

/// A parsed or to-be-sent handshake. Unknown reserved bits are kept as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake {
    pub reserved: [u8; 8],
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
}

impl Handshake {
    /// Encoded size on the wire.
    pub const LEN: usize = 68;

    /// Our handshake: advertises the extension protocol (BEP 10) and the fast extension (BEP 6).
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20]) -> Self {
        let mut reserved = [0u8; 8];
        reserved[EXTENSION_PROTOCOL_BYTE] |= EXTENSION_PROTOCOL_BIT;
        reserved[FAST_BYTE] |= FAST_BIT;
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// Whether the peer may receive BEP 10 extended messages (id 20).
    pub fn supports_extensions(&self) -> bool {
        self.reserved[EXTENSION_PROTOCOL_BYTE] & EXTENSION_PROTOCOL_BIT != 0
    }

    /// Whether the peer speaks BEP 6 (have-all/none, reject, suggest, allowed-fast).
    pub fn supports_fast(&self) -> bool {
        self.reserved[FAST_BYTE] & FAST_BIT != 0
    }

    /// Appends the 68 encoded bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(Self::LEN);
        out.push(PROTOCOL.len() as u8);
        out.extend_from_slice(PROTOCOL);
        out.extend_from_slice(&self.reserved);
        out.extend_from_slice(&self.info_hash);
        out.extend_from_slice(&self.peer_id);
    }

    /// Parses exactly [`Handshake::LEN`] bytes. The info hash is not checked here: which
    /// torrents we serve is the engine's business.
    pub fn parse(bytes: &[u8]) -> Result<Handshake, WireError> {
        let bytes: &[u8; Self::LEN] = bytes
            .try_into()
            .map_err(|_| WireError::HandshakeLength { len: bytes.len() })?;
        let (pstrlen, rest) = bytes.split_at(1);
        let (pstr, rest) = rest.split_at(PROTOCOL.len());
        if pstrlen != [PROTOCOL.len() as u8] || pstr != PROTOCOL {
            return Err(WireError::BadHandshakeProtocol);
        }
        let (reserved, rest) = rest.split_at(8);
        let (info_hash, peer_id) = rest.split_at(20);
        // The splits above add up to 68, so these conversions cannot fail; map anyway
        // rather than unwrap so the no-panic rule holds by construction.
        let err = || WireError::HandshakeLength { len: bytes.len() };
        Ok(Handshake {
            reserved: reserved.try_into().map_err(|_| err())?,
            info_hash: info_hash.try_into().map_err(|_| err())?,
            peer_id: peer_id.try_into().map_err(|_| err())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_advertises_extension_protocol_and_fast() {
        let h = Handshake::new([1; 20], [2; 20]);
        assert_eq!(h.reserved, [0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        assert!(h.supports_extensions());
        assert!(h.supports_fast());
        let plain = Handshake {
            reserved: [0; 8],
            ..h
        };
        assert!(!plain.supports_extensions());
        assert!(!plain.supports_fast());
    }

    #[test]
    fn encodes_bep3_layout_and_parses_back() {
        let h = Handshake::new([0xaa; 20], *b"-SC0001-abcdefghijkl");
        let mut out = Vec::new();
        h.encode_into(&mut out);
        assert_eq!(out.len(), Handshake::LEN);
        assert_eq!(out[0], 19);
        assert_eq!(&out[1..20], b"BitTorrent protocol");
        assert_eq!(&out[20..28], &h.reserved);
        assert_eq!(&out[28..48], &[0xaa; 20]);
        assert_eq!(&out[48..68], b"-SC0001-abcdefghijkl");
        assert_eq!(Handshake::parse(&out), Ok(h));
    }

    #[test]
    fn rejects_wrong_protocol_and_length() {
        let mut out = Vec::new();
        Handshake::new([0; 20], [0; 20]).encode_into(&mut out);
        let mut bad_len = out.clone();
        bad_len[0] = 18;
        assert_eq!(
            Handshake::parse(&bad_len),
            Err(WireError::BadHandshakeProtocol)
        );
        let mut bad_str = out.clone();
        bad_str[1] = b'b';
        assert_eq!(
            Handshake::parse(&bad_str),
            Err(WireError::BadHandshakeProtocol)
        );
        assert_eq!(
            Handshake::parse(&out[..67]),
            Err(WireError::HandshakeLength { len: 67 })
        );
    }
}
