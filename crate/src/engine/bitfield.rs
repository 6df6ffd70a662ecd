//! A fixed-length set of piece indices, stored as the BEP 3 bitfield (high bit first).

/// Invariants: `bits.len() == ceil(len / 8)`, spare bits past `len` are zero, and
/// `ones` equals the number of set bits.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitfield {
    bits: Vec<u8>,
    len: u32,
    ones: u32,
}

/// Why a peer's bitfield was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitfieldError {
    #[error("bitfield is {got} bytes, expected {expected} for {pieces} pieces")]
    WrongLength {
        got: usize,
        expected: usize,
        pieces: u32,
    },
    #[error("bitfield has bits set past the last piece")]
    SpareBitsSet,
}

impl Bitfield {
    pub fn new(len: u32) -> Self {
        Bitfield {
            bits: vec![0; byte_len(len)],
            len,
            ones: 0,
        }
    }

    pub fn full(len: u32) -> Self {
        let mut b = Bitfield::new(len);
        for i in 0..len {
            b.set(i);
        }
        b
    }

    /// Parses a bitfield received from a peer, strictly (BEP 3 says spare bits must be clear).
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = byte_len(len);
        if bytes.len() != expected {
            return Err(BitfieldError::WrongLength {
                got: bytes.len(),
                expected,
                pieces: len,
            });
        }
        let spare = (expected * 8) as u64 - len as u64;
        if spare > 0 {
            let mask = (1u8 << spare) - 1;
            if bytes.last().is_some_and(|b| b & mask != 0) {
                return Err(BitfieldError::SpareBitsSet);
            }
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bits: bytes.to_vec(),
            len,
            ones,
        })
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn count(&self) -> u32 {
        self.ones
    }

    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bits[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Sets bit `i`; returns true if it was clear. Out-of-range indices are ignored.
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.bits[(i / 8) as usize] |= 0x80 >> (i % 8);
        self.ones += 1;
        true
    }

    /// Clears bit `i`; returns true if it was set.
    pub fn clear(&mut self, i: u32) -> bool {
        if !self.get(i) {
            return false;
        }
        self.bits[(i / 8) as usize] &= !(0x80 >> (i % 8));
        self.ones -= 1;
        true
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }

    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(move |&i| self.get(i))
    }
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{})", self.ones, self.len)
    }
}

fn byte_len(len: u32) -> usize {
    (len as usize).div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_count() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0));
        assert!(!b.set(0));
        assert!(b.set(9));
        assert!(!b.set(10), "out of range is ignored");
        assert_eq!(b.count(), 2);
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert!(b.clear(9));
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn from_bytes_is_strict() {
        assert_eq!(Bitfield::from_bytes(&[0xff, 0xc0], 10).unwrap().count(), 10);
        assert!(Bitfield::from_bytes(&[0xff, 0xc0], 10).unwrap().is_full());
        assert_eq!(
            Bitfield::from_bytes(&[0xff, 0xe0], 10),
            Err(BitfieldError::SpareBitsSet)
        );
        assert!(matches!(
            Bitfield::from_bytes(&[0xff], 10),
            Err(BitfieldError::WrongLength { .. })
        ));
        assert!(Bitfield::from_bytes(&[], 0).unwrap().is_full());
    }
}
