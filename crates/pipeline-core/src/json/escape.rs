//! Which bytes of a string JSON escapes, as serde_json's compact output does: `"` and `\`, and
//! the control characters below 0x20 (five of them as `\b \t \n \f \r`, the others as
//! `\u00XX`). Non-ASCII UTF-8 is written as is.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether one of the eight bytes of `word` is below 0x20, `"` or `\` (the classic "has a byte
/// less than n" and "has a zero byte" bit tricks, exact as to whether any byte qualifies).
fn may_need_escape(word: u64) -> bool {
    let has_zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH_BITS != 0;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS != 0;
    control
        || has_zero_byte(word ^ (ONES * u64::from(b'"')))
        || has_zero_byte(word ^ (ONES * u64::from(b'\\')))
}

/// Whether any byte of `bytes` needs an escape: eight bytes at a time, a last overlapping word
/// covering the tail (strings shorter than a word go byte by byte).
pub(super) fn needs_escape(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return bytes
            .iter()
            .any(|&byte| EXTRA_ESCAPE_BYTES[usize::from(byte)] > 0);
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
