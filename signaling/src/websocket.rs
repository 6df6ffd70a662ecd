//! Server-side WebSocket framing (RFC 6455), just what a tracker needs: masked client frames in, unmasked
//! frames out, fragmentation, ping/pong/close, a size limit, no extensions.
//!
//! Why not a general WebSocket library: a tracker holds tens of thousands of mostly idle sockets. Here an
//! idle socket owns no buffers at all: bytes are read into the reading task's stack, complete frames are
//! handled in place, and only a partial frame (or an unfinished fragmented message) is copied to the heap.

use std::ops::ControlFlow;

/// Close codes used by the tracker.
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// A complete message or control frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Text(&'a str),
    Binary,
    Ping(&'a [u8]),
    Pong,
    Close,
}

/// A framing violation; the connection is closed with `close_code()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message larger than {0} bytes")]
    TooBig(usize),
    #[error("WebSocket protocol violation: {0}")]
    Protocol(&'static str),
    #[error("text message is not valid UTF-8")]
    NotUtf8,
}

impl FrameError {
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TooBig(_) => close_code::TOO_BIG,
            Self::Protocol(_) => close_code::PROTOCOL,
            Self::NotUtf8 => close_code::INVALID_PAYLOAD,
        }
    }
}

/// Incremental frame reader. Invariants: `pending` holds at most one partial frame (header + at most
/// `max_message` bytes), and `fragments` at most `max_message` bytes of an unfinished message.
#[derive(Debug)]
pub struct Reader {
    max_message: usize,
    pending: Vec<u8>,
    /// An unfinished fragmented message: is it text, and its bytes so far.
    fragments: Option<(bool, Vec<u8>)>,
}

struct Frame {
    fin: bool,
    opcode: u8,
    payload: std::ops::Range<usize>,
}

impl Reader {
    pub fn new(max_message: usize) -> Self {
        Self {
            max_message,
            pending: Vec::new(),
            fragments: None,
        }
    }

    /// Feeds freshly read bytes and calls `on_event` for each complete event, in order. Stops early when
    /// `on_event` breaks (the rest of the bytes are dropped: the connection is ending).
    pub fn feed(
        &mut self,
        data: &mut [u8],
        mut on_event: impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, FrameError> {
        if self.pending.is_empty() {
            let (consumed, flow) = self.parse_all(data, &mut on_event)?;
            if flow.is_continue() {
                self.pending.extend_from_slice(&data[consumed..]);
            }
            return Ok(flow);
        }
        let mut buffer = std::mem::take(&mut self.pending);
        buffer.extend_from_slice(data);
        let (consumed, flow) = self.parse_all(&mut buffer, &mut on_event)?;
        buffer.drain(..consumed);
        // Keep the allocation only while a partial frame needs it.
        self.pending = if buffer.is_empty() {
            Vec::new()
        } else {
            buffer
        };
        Ok(flow)
    }

    fn parse_all(
        &mut self,
        buf: &mut [u8],
        on_event: &mut impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> Result<(usize, ControlFlow<()>), FrameError> {
        let mut offset = 0;
        while let Some((frame, len)) = parse_frame(&mut buf[offset..], self.max_message)? {
            let payload = offset + frame.payload.start..offset + frame.payload.end;
            offset += len;
            let flow = self.on_frame(frame.fin, frame.opcode, &buf[payload], on_event)?;
            if flow.is_break() {
                return Ok((offset, flow));
            }
        }
        Ok((offset, ControlFlow::Continue(())))
    }

    fn on_frame(
        &mut self,
        fin: bool,
        opcode: u8,
        payload: &[u8],
        on_event: &mut impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, FrameError> {
        match opcode {
            OP_PING => Ok(on_event(Event::Ping(payload))),
            OP_PONG => Ok(on_event(Event::Pong)),
            OP_CLOSE => Ok(on_event(Event::Close)),
            OP_TEXT | OP_BINARY if self.fragments.is_some() => {
                Err(FrameError::Protocol("new message inside a fragmented one"))
            }
            OP_TEXT | OP_BINARY if fin => Ok(deliver(opcode == OP_TEXT, payload, on_event)?),
            OP_TEXT | OP_BINARY => {
                self.fragments = Some((opcode == OP_TEXT, payload.to_vec()));
                Ok(ControlFlow::Continue(()))
            }
            OP_CONTINUATION => {
                let Some((_, bytes)) = self.fragments.as_mut() else {
                    return Err(FrameError::Protocol("continuation without a message"));
                };
                if bytes.len() + payload.len() > self.max_message {
                    return Err(FrameError::TooBig(self.max_message));
                }
                bytes.extend_from_slice(payload);
                if !fin {
                    return Ok(ControlFlow::Continue(()));
                }
                let (is_text, bytes) = self.fragments.take().unwrap_or_default();
                deliver(is_text, &bytes, on_event)
            }
            _ => Err(FrameError::Protocol("unknown opcode")),
        }
    }
}

fn deliver(
    is_text: bool,
    payload: &[u8],
    on_event: &mut impl FnMut(Event<'_>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, FrameError> {
    if !is_text {
        return Ok(on_event(Event::Binary));
    }
    let text = std::str::from_utf8(payload).map_err(|_| FrameError::NotUtf8)?;
    Ok(on_event(Event::Text(text)))
}

/// Parses and unmasks the frame at the start of `buf`: `None` until it is complete. A frame announcing a
/// payload over `max` is refused from its header, before its payload is buffered.
fn parse_frame(buf: &mut [u8], max: usize) -> Result<Option<(Frame, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(FrameError::Protocol(
            "reserved bits set (no extension was negotiated)",
        ));
    }
    let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
    if b1 & 0x80 == 0 {
        return Err(FrameError::Protocol("client frames must be masked"));
    }
    let (len, header) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().unwrap_or_default()), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode >= OP_CLOSE && (!fin || len > 125) {
        return Err(FrameError::Protocol(
            "control frames must be whole and at most 125 bytes",
        ));
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= max)
        .ok_or(FrameError::TooBig(max))?;
    let start = header + 4;
    let Some(masked) = buf.get_mut(header..start + len) else {
        return Ok(None);
    };
    let (mask, payload) = masked.split_at_mut(4);
    unmask(payload, [mask[0], mask[1], mask[2], mask[3]]);
    Ok(Some((
        Frame {
            fin,
            opcode,
            payload: start..start + len,
        },
        start + len,
    )))
}

/// XORs `payload` with the repeated 4-byte `mask`, eight bytes at a time (every relayed byte passes here).
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let [a, b, c, d] = mask;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut words = payload.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
    }
    // The tail starts at a multiple of 8, so the mask starts over at its first byte.
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// The header of an unmasked, unfragmented server frame: `header[..len]`, in the shortest length encoding.
pub fn frame_header(opcode: u8, payload_len: usize) -> ([u8; 10], usize) {
    let mut header = [0; 10];
    header[0] = 0x80 | opcode;
    let len = match payload_len {
        n @ 0..=125 => {
            header[1] = n as u8;
            2
        }
        n @ 126..=0xffff => {
            header[1] = 126;
            header[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            4
        }
        n => {
            header[1] = 127;
            header[2..10].copy_from_slice(&(n as u64).to_be_bytes());
            10
        }
    };
    (header, len)
}

/// Appends one unmasked, unfragmented server frame to `out`.
pub fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let (header, len) = frame_header(opcode, payload.len());
    out.reserve(len + payload.len());
    out.extend_from_slice(&header[..len]);
    out.extend_from_slice(payload);
}

/// Appends a close frame with a code and a short reason.
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
    write_frame(out, OP_CLOSE, &payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame as a browser would send it.
    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        write_frame(&mut frame, opcode, payload);
        frame[0] = if fin { frame[0] } else { frame[0] & 0x7f };
        let header = match payload.len() {
            0..=125 => 2,
            126..=0xffff => 4,
            _ => 10,
        };
        frame[1] |= 0x80;
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = frame[..header].to_vec();
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    fn events(reader: &mut Reader, bytes: &[u8]) -> Result<Vec<String>, FrameError> {
        let mut seen = Vec::new();
        let mut data = bytes.to_vec();
        let flow = reader.feed(&mut data, |e| {
            seen.push(format!("{e:?}"));
            ControlFlow::Continue(())
        })?;
        assert!(flow.is_continue());
        Ok(seen)
    }

    #[test]
    fn text_split_across_reads_at_every_byte() {
        let mut stream = client_frame(true, OP_TEXT, "héllo".as_bytes());
        stream.extend(client_frame(true, OP_TEXT, &[b'x'; 300]));
        for split in 0..stream.len() {
            let mut reader = Reader::new(1000);
            let mut seen = events(&mut reader, &stream[..split]).unwrap();
            seen.extend(events(&mut reader, &stream[split..]).unwrap());
            assert_eq!(seen.len(), 2, "split at {split}");
            assert_eq!(seen[0], r#"Text("héllo")"#);
            assert!(reader.pending.is_empty() && reader.pending.capacity() == 0);
        }
    }

    #[test]
    fn fragments_are_joined_and_controls_may_interleave() {
        let mut reader = Reader::new(1000);
        let mut stream = client_frame(false, OP_TEXT, b"ab");
        stream.extend(client_frame(true, OP_PING, b"p"));
        stream.extend(client_frame(false, OP_CONTINUATION, b"cd"));
        stream.extend(client_frame(true, OP_CONTINUATION, b"ef"));
        assert_eq!(
            events(&mut reader, &stream).unwrap(),
            [r#"Ping([112])"#, r#"Text("abcdef")"#]
        );
    }

    #[test]
    fn violations_are_errors_with_close_codes() {
        let too_big = client_frame(true, OP_TEXT, &[b'a'; 200]);
        // Refused from the header alone.
        assert_eq!(
            events(&mut Reader::new(100), &too_big[..4]),
            Err(FrameError::TooBig(100))
        );
        let mut unmasked = Vec::new();
        write_frame(&mut unmasked, OP_TEXT, b"hi");
        assert!(matches!(
            events(&mut Reader::new(100), &unmasked),
            Err(FrameError::Protocol(_))
        ));
        let bad_utf8 = client_frame(true, OP_TEXT, &[0xff, 0xfe]);
        assert_eq!(
            events(&mut Reader::new(100), &bad_utf8)
                .unwrap_err()
                .close_code(),
            close_code::INVALID_PAYLOAD
        );
        let orphan = client_frame(true, OP_CONTINUATION, b"x");
        assert!(matches!(
            events(&mut Reader::new(100), &orphan),
            Err(FrameError::Protocol(_))
        ));
        let big_ping = client_frame(true, OP_PING, &[0; 126]);
        assert!(matches!(
            events(&mut Reader::new(1000), &big_ping),
            Err(FrameError::Protocol(_))
        ));
        let mut fragments = client_frame(false, OP_TEXT, &[b'a'; 60]);
        fragments.extend(client_frame(true, OP_CONTINUATION, &[b'a'; 60]));
        assert_eq!(
            events(&mut Reader::new(100), &fragments),
            Err(FrameError::TooBig(100))
        );
    }

    #[test]
    fn unmasking_matches_the_bytewise_definition() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for len in 0..40 {
            let plain: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            let mut data: Vec<u8> = plain
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            unmask(&mut data, mask);
            assert_eq!(data, plain, "length {len}");
        }
    }

    #[test]
    fn server_frames_use_the_shortest_length_encoding() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let mut out = Vec::new();
            write_frame(&mut out, OP_TEXT, &vec![0; len]);
            assert_eq!(out.len(), header + len);
            assert_eq!(out[0], 0x81);
        }
    }

    #[test]
    fn random_bytes_never_panic_and_buffering_stays_bounded() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..2_000 {
            let mut reader = Reader::new(256);
            // Mostly valid frames with random corruption, so parsing gets past the first header.
            let mut stream = client_frame(
                rng.random(),
                rng.random_range(0..16),
                &vec![b'a'; rng.random_range(0..300)],
            );
            for _ in 0..rng.random_range(0..8) {
                let i = rng.random_range(0..stream.len());
                stream[i] = rng.random();
            }
            stream.extend((0..rng.random_range(0..64)).map(|_| rng.random::<u8>()));
            for chunk in stream.chunks(rng.random_range(1..64)) {
                let mut chunk = chunk.to_vec();
                if reader
                    .feed(&mut chunk, |_| ControlFlow::Continue(()))
                    .is_err()
                {
                    break;
                }
                assert!(reader.pending.len() <= 256 + 14);
                assert!(
                    reader
                        .fragments
                        .as_ref()
                        .is_none_or(|(_, bytes)| bytes.len() <= 256)
                );
            }
        }
    }
}
