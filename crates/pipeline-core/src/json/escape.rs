//! Which bytes of a string JSON escapes, as serde_json's compact output does: `"` and `\`, and
//! the control characters below 0x20 (five of them as `\b \t \n \f \r`, the others as
//! `\u00XX`). Non-ASCII UTF-8 is written as is.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether one of the eight bytes of `word` is below 0x20, `"` or `\` (the classic "has a byte
/// less than n" and "has a zero byte" bit tricks, exact as to whether any byte qualifies).
fn may_need_escape(word: u64) -> bool {
    // Each term sets a byte's high bit where that byte qualifies (and only there, when no lower
    // byte does); the three are combined before the one test.
    let zero_bytes = |w: u64| w.wrapping_sub(ONES) & !w;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = zero_bytes(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(word ^ (ONES * u64::from(b'\\')));
    (control | quote | backslash) & HIGH_BITS != 0
}

/// Whether any byte of `bytes` needs an escape: eight bytes at a time, a last overlapping word
/// covering the tail (strings shorter than a word go byte by byte).
pub(super) fn needs_escape(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return short_needs_escape(bytes);
    }
    let word_at = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let mut at = 0;
    while at + 8 <= bytes.len() {
        if may_need_escape(word_at(at)) {
            return true;
        }
        at += 8;
    }
    at < bytes.len() && may_need_escape(word_at(bytes.len() - 8))
}

/// Strings of 4 to 7 bytes as one word of two overlapping halves; shorter ones byte by byte.
fn short_needs_escape(bytes: &[u8]) -> bool {
    let half = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|four| four.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    if bytes.len() >= 4 {
        let word = u64::from(half(0)) | u64::from(half(bytes.len() - 4)) << 32;
        return may_need_escape(word);
    }
    bytes
        .iter()
        .any(|&byte| EXTRA_ESCAPE_BYTES[usize::from(byte)] > 0)
}

/// How many bytes more than one each byte takes once escaped.
pub(super) static EXTRA_ESCAPE_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = match byte {
            0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 1,
            _ => 5,
        };
        byte += 1;
    }
    table[b'"' as usize] = 1;
    table[b'\\' as usize] = 1;
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn by_table(bytes: &[u8]) -> bool {
        bytes
            .iter()
            .any(|&byte| EXTRA_ESCAPE_BYTES[usize::from(byte)] > 0)
    }

    #[test]
    fn short_strings_agree_with_the_table_for_every_pair_of_bytes_anywhere() {
        for len in 1..8 {
            for first in 0..=255u8 {
                for second in 0..=255u8 {
                    for at in 0..len {
                        let mut bytes = vec![b'a'; len];
                        bytes[at] = first;
                        if at + 1 < len {
                            bytes[at + 1] = second;
                        }
                        assert_eq!(needs_escape(&bytes), by_table(&bytes), "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_word_check_agrees_with_the_table_for_every_pair_of_bytes_anywhere() {
        // Every pair of byte values, at each pair of neighbouring positions of a 9-byte string
        // (two words: the second overlaps the first), over a filler that needs no escape.
        for first in 0..=255u8 {
            for second in 0..=255u8 {
                for at in 0..8 {
                    let mut bytes = [b'a'; 9];
                    bytes[at] = first;
                    bytes[at + 1] = second;
                    assert_eq!(needs_escape(&bytes), by_table(&bytes), "{bytes:?}");
                }
            }
        }
    }
}
