//! Comparing secrets a client sends (bearer tokens, API keys) without telling it, through the
//! answer's timing, how much of a guess was right.

/// Equality whose time depends only on the lengths, not on where the bytes differ.
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let difference = given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// Whether `given` is one of `accepted`, comparing with every one of them in constant time.
pub(crate) fn one_of(given: &str, accepted: &[String]) -> bool {
    accepted.iter().fold(false, |found, key| {
        found | constant_time_eq(given.as_bytes(), key.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_every_byte_and_the_length_match() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret-longer"));
        let keys = vec!["key-1".to_owned(), "key-2".to_owned()];
        assert!(one_of("key-2", &keys));
        assert!(!one_of("key-3", &keys));
    }
}
