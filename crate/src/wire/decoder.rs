//! Stream decoder: turns a byte stream cut at arbitrary points (WebRTC data channel
//! messages, TCP reads) into a handshake followed by messages.
//!
//! Framing happens in [`Decoder::push`], so each byte is looked at once:
//! * small messages are decoded straight from the pushed slice (or from a ≤ 68-byte header
//!   buffer when one straddles two pushes);
//! * the body of a piece, bitfield or extended message is copied from the pushed slices
//!   directly into the `Vec` the message will own — the payload is copied exactly once;
//! * the body of an unknown message is counted down and dropped, never stored.
//!
//! Complete frames wait in a queue for [`Decoder::next`]. Memory held is therefore what was
//! pushed and not yet taken, plus at most one partial message, never more than
//! [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN) of it; no byte is ever shifted.

use std::collections::VecDeque;

use super::message::{Layout, check_frame_len, layout};
use super::{BLOCK_SIZE, Handshake, Message, WireError};

/// One decoded unit of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Handshake(Handshake),
    Message(Message),
}

/// Incremental decoder for one peer connection. See the module docs for the memory model.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    /// Partial handshake or message header that straddles two pushes. Only `head[..head_len]`
    /// is meaningful; a message header (prefix + fixed part) is at most 17 bytes.
    head: [u8; Handshake::LEN],
    head_len: usize,
    ready: VecDeque<Frame>,
    /// Wire size of the frames in `ready`, for [`Decoder::buffered_len`].
    ready_bytes: usize,
}

#[derive(Debug)]
enum State {
    Handshake,
    /// Between messages, or inside a length prefix / fixed-size part held in `head`.
    Header,
    /// Collecting the body of a message whose header is complete.
    /// Invariant: `body.len() < layout.body_len` (empty bodies never get here), `head_len == 0`.
    Body {
        layout: Layout,
        header: [u8; MAX_HEADER_LEN],
        body: Vec<u8>,
    },
    /// Dropping the rest of an unknown message's body. Invariant: `remaining > 0`.
    Skip {
        layout: Layout,
        header: [u8; MAX_HEADER_LEN],
        remaining: usize,
    },
    /// Sticky: a peer that sent garbage once is not resynchronised.
    Failed(WireError),
}

/// Length prefix plus the longest fixed part (request/cancel/reject: id + 12 bytes).
const MAX_HEADER_LEN: usize = 4 + 13;

/// A body's first allocation when the rest has not arrived yet: one block, so a 16 KiB
/// piece needs exactly one allocation, while a peer announcing a large bitfield and then
/// stalling costs little. Larger bodies grow geometrically up to their announced length.
const INITIAL_BODY_CAPACITY: usize = BLOCK_SIZE as usize;

/// What the bytes at the start of a frame say, once enough of them are available.
enum Parsed {
    /// Need this many bytes from the frame start before anything can be decided.
    NeedMore(usize),
    /// A complete small message that used this many bytes.
    Whole(Message, usize),
    /// The header of a message with a body: `header_len` bytes (prefix included) were read.
    Header { layout: Layout, header_len: usize },
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder for a fresh connection: the first 68 bytes must be a handshake.
    pub fn new() -> Self {
        Self::starting_in(State::Handshake)
    }

    /// A decoder for a stream whose handshake was already consumed elsewhere.
    pub fn after_handshake() -> Self {
        Self::starting_in(State::Header)
    }

    fn starting_in(state: State) -> Self {
        Decoder {
            state,
            head: [0; Handshake::LEN],
            head_len: 0,
            ready: VecDeque::new(),
            ready_bytes: 0,
        }
    }

    /// Bytes pushed but not yet returned by [`next`](Self::next): queued frames (at their wire
    /// size) plus the partial frame being assembled. Skipped payloads count nothing.
    pub fn buffered_len(&self) -> usize {
        let partial = match &self.state {
            State::Body { layout, body, .. } => 4 + layout.header_len + body.len(),
            _ => self.head_len,
        };
        self.ready_bytes + partial
    }

    /// Appends received bytes. Never fails: a protocol error is reported by `next` once the
    /// frames before it have been taken, and every later byte is ignored.
    pub fn push(&mut self, mut input: &[u8]) {
        // Invariant between calls: no decision is pending on bytes already held (a complete
        // header is always acted on in the step that completed it), so an empty input
        // means nothing is left to do.
        while !input.is_empty() {
            let used = match self.step(input) {
                Ok(used) => used,
                Err(error) => {
                    self.state = State::Failed(error);
                    return;
                }
            };
            // Every state consumes at least one byte of a non-empty input; guard anyway so a
            // bug cannot turn into a hang.
            debug_assert!(used > 0, "decoder made no progress in {:?}", self.state);
            if used == 0 {
                return;
            }
            input = input.get(used..).unwrap_or_default();
        }
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or the protocol error
    /// that stopped decoding — forever, once frames before it are drained.
    #[allow(clippy::should_implement_trait)] // fallible and resumable, unlike Iterator
    pub fn next(&mut self) -> Result<Option<Frame>, WireError> {
        if let Some(frame) = self.ready.pop_front() {
            self.ready_bytes -= frame_wire_len(&frame);
            return Ok(Some(frame));
        }
        match &self.state {
            State::Failed(error) => Err(error.clone()),
            _ => Ok(None),
        }
    }

    /// Makes progress on `input`; returns how many of its bytes were used.
    fn step(&mut self, input: &[u8]) -> Result<usize, WireError> {
        match &mut self.state {
            State::Failed(_) => Ok(input.len()),
            State::Handshake => {
                let used = self.fill_head(Handshake::LEN, input);
                if self.head_len == Handshake::LEN {
                    let handshake = Handshake::parse(&self.head)?;
                    self.head_len = 0;
                    self.enqueue(Frame::Handshake(handshake));
                    self.state = State::Header;
                }
                Ok(used)
            }
            State::Header if self.head_len == 0 => {
                // Fast path: decide from the pushed slice itself, no copy into `head`.
                match parse_frame_start(input)? {
                    Parsed::NeedMore(_) => Ok(self.fill_head(input.len(), input)),
                    Parsed::Whole(message, used) => {
                        self.enqueue(Frame::Message(message));
                        Ok(used)
                    }
                    Parsed::Header { layout, header_len } => {
                        self.start_body(layout, input.get(..header_len).unwrap_or_default());
                        Ok(header_len)
                    }
                }
            }
            State::Header => {
                // Slow path: a header straddles pushes. Grow `head` only up to what the
                // bytes so far say is needed, so it never swallows body bytes.
                let mut used = 0;
                loop {
                    match parse_frame_start(self.head.get(..self.head_len).unwrap_or_default())? {
                        Parsed::NeedMore(needed) => {
                            used += self.fill_head(needed, input.get(used..).unwrap_or_default());
                            if self.head_len < needed {
                                return Ok(used); // input exhausted
                            }
                        }
                        Parsed::Whole(message, _) => {
                            self.head_len = 0;
                            self.enqueue(Frame::Message(message));
                            return Ok(used);
                        }
                        Parsed::Header { layout, header_len } => {
                            let head = self.head;
                            self.head_len = 0;
                            self.start_body(layout, head.get(..header_len).unwrap_or_default());
                            return Ok(used);
                        }
                    }
                }
            }
            State::Body {
                layout,
                header,
                body,
            } => {
                let take = (layout.body_len - body.len()).min(input.len());
                let chunk = input.get(..take).unwrap_or_default();
                reserve_body(body, layout.body_len, chunk.len());
                body.extend_from_slice(chunk);
                if body.len() == layout.body_len {
                    let message =
                        layout.finish(header_fields(header, layout), std::mem::take(body))?;
                    self.state = State::Header;
                    self.enqueue(Frame::Message(message));
                }
                Ok(take)
            }
            State::Skip {
                layout,
                header,
                remaining,
            } => {
                let take = (*remaining).min(input.len());
                *remaining -= take;
                if *remaining == 0 {
                    let message = layout.finish(header_fields(header, layout), Vec::new())?;
                    self.state = State::Header;
                    self.enqueue(Frame::Message(message));
                }
                Ok(take)
            }
        }
    }

    /// Copies from `input` into `head` until it holds `target` bytes; returns bytes used.
    fn fill_head(&mut self, target: usize, input: &[u8]) -> usize {
        let want = target.min(self.head.len()).saturating_sub(self.head_len);
        let take = want.min(input.len());
        if let (Some(dst), Some(src)) = (
            self.head.get_mut(self.head_len..self.head_len + take),
            input.get(..take),
        ) {
            dst.copy_from_slice(src);
            self.head_len += take;
            take
        } else {
            0
        }
    }

    /// Enters `Body`/`Skip` for a message whose `header_bytes` (prefix included) were read.
    fn start_body(&mut self, layout: Layout, header_bytes: &[u8]) {
        let mut header = [0u8; MAX_HEADER_LEN];
        for (dst, src) in header.iter_mut().zip(header_bytes) {
            *dst = *src;
        }
        self.state = if layout.skips_body() {
            State::Skip {
                layout,
                header,
                remaining: layout.body_len,
            }
        } else {
            State::Body {
                layout,
                header,
                body: Vec::new(),
            }
        };
    }

    fn enqueue(&mut self, frame: Frame) {
        self.ready_bytes += frame_wire_len(&frame);
        self.ready.push_back(frame);
    }
}

/// Grows `body` for `incoming` more bytes without ever reserving past its announced
/// `total` length, and without letting a stalled sender make us allocate it all up front.
fn reserve_body(body: &mut Vec<u8>, total: usize, incoming: usize) {
    let needed = body.len() + incoming;
    if needed <= body.capacity() {
        return;
    }
    let target = if body.capacity() == 0 {
        total.min(INITIAL_BODY_CAPACITY.max(needed))
    } else {
        total.min((body.capacity() * 2).max(needed))
    };
    body.reserve_exact(target - body.len());
}

/// Classifies the bytes at the start of a frame (`bytes` may hold more than the frame).
fn parse_frame_start(bytes: &[u8]) -> Result<Parsed, WireError> {
    let Some(prefix) = bytes.first_chunk::<4>() else {
        return Ok(Parsed::NeedMore(4));
    };
    let len = check_frame_len(u32::from_be_bytes(*prefix))?;
    if len == 0 {
        return Ok(Parsed::Whole(Message::KeepAlive, 4));
    }
    let Some(&msg_id) = bytes.get(4) else {
        return Ok(Parsed::NeedMore(5));
    };
    let layout = layout(msg_id, len)?;
    let header_end = 4 + layout.header_len;
    let Some(header) = bytes.get(4..header_end) else {
        return Ok(Parsed::NeedMore(header_end));
    };
    // Empty bodies complete here, so `Body` and `Skip` always start with bytes to wait for.
    if layout.body_len == 0 {
        return Ok(Parsed::Whole(
            layout.finish(header, Vec::new())?,
            header_end,
        ));
    }
    Ok(Parsed::Header {
        layout,
        header_len: header_end,
    })
}

/// The header bytes after the length prefix, as [`Layout::finish`] wants them.
fn header_fields<'a>(header: &'a [u8; MAX_HEADER_LEN], layout: &Layout) -> &'a [u8] {
    header.get(4..4 + layout.header_len).unwrap_or_default()
}

/// Wire size of a frame as it was received (unknown messages: without their skipped body).
fn frame_wire_len(frame: &Frame) -> usize {
    match frame {
        Frame::Handshake(_) => Handshake::LEN,
        Frame::Message(message) => message.encoded_len(),
    }
}
