use super::error::BencodeError;
use super::value::{Dict, Value, ValueKind};

/// Resource bounds for one decode. Both are needed: depth bounds recursion (stack), the value
/// count bounds memory (a 32 MiB input of `0:` items would otherwise become 16 M tree nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum nesting of lists and dictionaries.
    pub max_depth: usize,
    /// Maximum number of values, dictionary keys included.
    pub max_values: usize,
}

impl Default for DecodeLimits {
    /// Depth 64 (real torrents nest about 5 deep); 2,000,000 values (libtorrent's token limit).
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_values: 2_000_000,
        }
    }
}

/// Decodes exactly one value spanning the whole input; trailing bytes are an error.
pub fn decode(input: &[u8]) -> Result<Value<'_>, BencodeError> {
    decode_with_limits(input, DecodeLimits::default())
}

/// [`decode`] with explicit bounds.
pub fn decode_with_limits(input: &[u8], limits: DecodeLimits) -> Result<Value<'_>, BencodeError> {
    let (value, used) = decode_prefix_with_limits(input, limits)?;
    match input.len() - used {
        0 => Ok(value),
        count => Err(BencodeError::TrailingBytes { count }),
    }
}

/// Decodes one value at the start of `input` and returns it with the number of bytes it used.
/// For messages where a bencoded header is followed by raw data (BEP 9 `ut_metadata`).
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), BencodeError> {
    decode_prefix_with_limits(input, DecodeLimits::default())
}

fn decode_prefix_with_limits(
    input: &[u8],
    limits: DecodeLimits,
) -> Result<(Value<'_>, usize), BencodeError> {
    let mut parser = Parser {
        input,
        pos: 0,
        values: 0,
        limits,
        items: Vec::new(),
        entries: Vec::new(),
    };
    let value = parser.value(0)?;
    Ok((value, parser.pos))
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    values: usize,
    limits: DecodeLimits,
    /// Scratch stacks: children of every open list/dict are pushed here, then moved out in one
    /// exact-size allocation when the container closes (no doubling, no spare capacity).
    items: Vec<Value<'a>>,
    entries: Vec<(&'a [u8], Value<'a>)>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(BencodeError::UnexpectedEnd { offset: self.pos })
    }

    fn count_value(&mut self) -> Result<(), BencodeError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(BencodeError::TooManyValues {
                max: self.limits.max_values,
            });
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, BencodeError> {
        self.count_value()?;
        let start = self.pos;
        let kind = match self.peek()? {
            b'i' => ValueKind::Int(self.int()?),
            b'0'..=b'9' => ValueKind::Bytes(self.bytes()?),
            b'l' | b'd' if depth >= self.limits.max_depth => {
                return Err(BencodeError::TooDeep {
                    offset: start,
                    max: self.limits.max_depth,
                });
            }
            b'l' => ValueKind::List(self.list(depth + 1)?),
            b'd' => ValueKind::Dict(self.dict(depth + 1)?),
            byte => {
                return Err(BencodeError::UnexpectedByte {
                    byte,
                    offset: start,
                });
            }
        };
        Ok(Value {
            raw: &self.input[start..self.pos],
            kind,
        })
    }

    /// `i<decimal>e`, canonical form only.
    fn int(&mut self) -> Result<i64, BencodeError> {
        let start = self.pos;
        self.pos += 1; // 'i'
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        // Accumulate towards the sign so that i64::MIN is representable.
        let mut n: i64 = 0;
        loop {
            let byte = self.peek()?;
            match byte {
                b'0'..=b'9' => {
                    let digit = i64::from(byte - b'0');
                    n = n
                        .checked_mul(10)
                        .and_then(|n| {
                            if negative {
                                n.checked_sub(digit)
                            } else {
                                n.checked_add(digit)
                            }
                        })
                        .ok_or(BencodeError::IntegerOverflow { offset: start })?;
                    self.pos += 1;
                }
                b'e' => break,
                _ => return Err(BencodeError::InvalidInteger { offset: start }),
            }
        }
        let digits = &self.input[digits_start..self.pos];
        let leading_zero = digits.len() > 1 && digits[0] == b'0';
        let negative_zero = negative && digits == b"0";
        if digits.is_empty() || leading_zero || negative_zero {
            return Err(BencodeError::InvalidInteger { offset: start });
        }
        self.pos += 1; // 'e'
        Ok(n)
    }

    /// `<length>:<bytes>`; the length is checked against the remaining input before use.
    fn bytes(&mut self) -> Result<&'a [u8], BencodeError> {
        let start = self.pos;
        let mut length: u64 = 0;
        loop {
            let byte = self.peek()?;
            match byte {
                b'0'..=b'9' => {
                    length = length
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(byte - b'0')))
                        .ok_or(BencodeError::InvalidLength { offset: start })?;
                    self.pos += 1;
                }
                b':' => break,
                _ => return Err(BencodeError::InvalidLength { offset: start }),
            }
        }
        let digits = self.pos - start;
        if digits > 1 && self.input[start] == b'0' {
            return Err(BencodeError::InvalidLength { offset: start });
        }
        self.pos += 1; // ':'
        let available = self.input.len() - self.pos;
        let fits = usize::try_from(length).ok().filter(|&n| n <= available);
        let Some(length) = fits else {
            return Err(BencodeError::LengthExceedsInput {
                offset: start,
                length,
                available,
            });
        };
        let bytes = &self.input[self.pos..self.pos + length];
        self.pos += length;
        Ok(bytes)
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Value<'a>>, BencodeError> {
        self.pos += 1; // 'l'
        let base = self.items.len();
        while self.peek()? != b'e' {
            let item = self.value(depth)?;
            self.items.push(item);
        }
        self.pos += 1;
        Ok(self.items.split_off(base))
    }

    fn dict(&mut self, depth: usize) -> Result<Dict<'a>, BencodeError> {
        self.pos += 1; // 'd'
        let base = self.entries.len();
        let mut sorted = true;
        loop {
            let offset = self.pos;
            match self.peek()? {
                b'e' => break,
                b'0'..=b'9' => {}
                _ => return Err(BencodeError::KeyNotString { offset }),
            }
            self.count_value()?;
            let key = self.bytes()?;
            if let Some((previous, _)) = self.entries.get(base..).and_then(<[_]>::last) {
                if key == *previous {
                    return Err(BencodeError::DuplicateKey {
                        offset: self.offset_of(key),
                    });
                }
                sorted &= key > *previous;
            }
            let value = self.value(depth)?;
            self.entries.push((key, value));
        }
        self.pos += 1;
        let entries = self.entries.split_off(base);
        if !sorted {
            // Keys in any order are accepted, duplicates anywhere are not: O(n log n) check.
            let mut keys: Vec<&[u8]> = entries.iter().map(|(k, _)| *k).collect();
            keys.sort_unstable();
            if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
                let later = self.offset_of(pair[0]).max(self.offset_of(pair[1]));
                return Err(BencodeError::DuplicateKey { offset: later });
            }
        }
        Ok(Dict { entries, sorted })
    }

    /// Where a slice of the input starts. Keys are slices of `input`, so this is exact; the
    /// `<length>:` prefix is not included.
    fn offset_of(&self, slice: &[u8]) -> usize {
        (slice.as_ptr() as usize).saturating_sub(self.input.as_ptr() as usize)
    }
}
