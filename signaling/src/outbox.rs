//! The bounded queue of messages waiting to be written to one socket.
//!
//! Other connections push relayed offers and answers here while holding no lock of their own; the socket's
//! task drains it. Invariant: the queue never holds more than `capacity` messages. A push to a full queue
//! marks the outbox as overflowed instead of growing it, and the owning task then closes the socket:
//! a reader that cannot keep up is dropped, never buffered without bound.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    wake: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<String>,
    overflowed: bool,
    closed: bool,
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the reader is too slow; its connection is being closed")]
    Overflow,
    #[error("the connection is closed")]
    Closed,
}

/// What the socket task takes out in one go.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: VecDeque<String>,
    /// The queue overflowed since the last drain: close the socket.
    pub overflowed: bool,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            capacity,
        }
    }

    pub fn push(&self, message: String) -> Result<(), PushError> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if state.closed {
            return Err(PushError::Closed);
        }
        if state.overflowed || state.queue.len() >= self.capacity {
            state.overflowed = true;
            drop(state);
            self.wake.notify_one();
            return Err(PushError::Overflow);
        }
        state.queue.push_back(message);
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Takes every queued message. The queue's buffer goes with them, so an idle outbox holds no heap memory.
    pub fn drain(&self) -> Batch {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Batch {
            messages: std::mem::take(&mut state.queue),
            overflowed: state.overflowed,
        }
    }

    /// Resolves once something was pushed since the last call (a push before the call is not lost).
    pub async fn ready(&self) {
        self.wake.notified().await;
    }

    /// Refuses further pushes and frees queued messages; called when the socket is gone.
    pub fn close(&self) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        state.closed = true;
        state.queue = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_overflows_instead_of_growing() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.push("a".into()), Ok(()));
        assert_eq!(outbox.push("b".into()), Ok(()));
        assert_eq!(outbox.push("c".into()), Err(PushError::Overflow));
        let batch = outbox.drain();
        assert_eq!(batch.messages, ["a", "b"]);
        assert!(batch.overflowed);
        // Once overflowed, the connection is doomed: nothing more is queued.
        assert_eq!(outbox.push("d".into()), Err(PushError::Overflow));
    }

    #[test]
    fn closed_outbox_refuses() {
        let outbox = Outbox::new(2);
        outbox.push("a".into()).unwrap();
        outbox.close();
        assert_eq!(outbox.push("b".into()), Err(PushError::Closed));
        assert!(outbox.drain().messages.is_empty());
    }
}
