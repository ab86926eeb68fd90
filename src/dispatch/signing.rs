//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), so a receiver can check
//! that a request came from this sink and was not altered, and drop replays and duplicates.
//!
//! With `[sinks.ID.signing]`, every try carries three headers:
//! - `webhook-id`: the message's id, the same on every try and every attempt of one payload;
//! - `webhook-timestamp`: the try's Unix time in seconds (a receiver refuses old ones);
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` per secret,
//!   space-separated (several secrets during a key rotation).
//!
//! **Why the id is derived, not stored.** `webhook-id` is `msg_` and the first 128 bits (32 hex
//! digits) of SHA-256 over the sink id, the stream and the exact body bytes. Those are what the
//! retry store keeps of a record (under `data_dir/<sink id>/`), so the id is the same for every
//! try, for later attempts from the store after a restart, and for a `dead-letters replay`,
//! without a schema change or an id threaded through preparation, attempts and the store.
//!
//! **Collisions.** Distinct bodies collide with negligible probability (a 128-bit hash). Equal
//! bodies on the same stream of the same sink *are* the same message and share an id, so a
//! receiver that deduplicates by `webhook-id` (as the spec recommends) keeps one of them. The
//! default payload is the whole record, `$insert_id` and `event_time` included, so only a record
//! sent twice shares an id (Amplitude deduplicates those by `$insert_id` too). A template that
//! leaves out every field telling two records apart makes them one message: put
//! `${input["$insert_id"]}` in it when the receiver deduplicates. Other sinks (other ids) give
//! the same body another id.
//!
//! **Cost.** The secrets are turned into HMAC key states once ([`Signer::new`]); a try clones a
//! state (a copy of 200-odd bytes), hashes the body once for the id and once per secret, and
//! allocates the three header values. Secret bytes are never printed: [`SigningSecret`]'s and
//! [`Signer`]'s `Debug` redact them, and neither is written to logs, previews or the store.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use bytes::BytesMut;
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use crate::stream::Stream;

/// The header carrying the message id.
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// The header carrying the try's Unix time in seconds.
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// The header carrying the signatures.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
/// The three headers signing sets; none can be set through `headers`.
pub const SIGNING_HEADERS: [HeaderName; 3] = [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE];

/// How a symmetric Standard Webhooks secret is written.
pub const SECRET_PREFIX: &str = "whsec_";
/// The fewest secret bytes the spec allows (192 bits).
pub const MIN_SECRET_BYTES: usize = 24;
/// The most secret bytes the spec allows (512 bits).
pub const MAX_SECRET_BYTES: usize = 64;

/// `msg_` and 32 hex digits.
const ID_LEN: usize = 4 + 32;
/// `v1,` and the base64 of 32 bytes.
const SIGNATURE_LEN: usize = 3 + 44;
/// Separates the id hash's fields from other uses of SHA-256 and from later id schemes.
const ID_DOMAIN: &[u8] = b"webhook-sink message id v1\n";

/// Base64 with the standard alphabet, padding optional on input (reference libraries accept
/// unpadded secrets) and written on output.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A decoded `whsec_` secret. Its bytes are never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Box<[u8]>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// Why a secret was refused; the message never quotes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("a signing secret starts with `whsec_` (Standard Webhooks' symmetric secret format)")]
    Prefix,
    /// What follows `whsec_` is not base64.
    #[error("the part after `whsec_` is not base64 (standard alphabet: A-Z, a-z, 0-9, + and /)")]
    Base64,
    /// The secret is shorter or longer than the spec allows.
    #[error(
        "the secret decodes to {bytes} bytes; Standard Webhooks secrets are \
         {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes"
    )]
    Length {
        /// The decoded length.
        bytes: usize,
    },
}

impl SigningSecret {
    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<SigningSecret, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        // The decoder's error would quote the offending character: keep it out of messages.
        let bytes = BASE64.decode(encoded).map_err(|_| SecretError::Base64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(SecretError::Length { bytes: bytes.len() });
        }
        Ok(SigningSecret(bytes.into_boxed_slice()))
    }
}

/// A `webhook-id`: `msg_` and 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MessageId([u8; ID_LEN]);

impl MessageId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three header values of one try.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: HeaderValue,
    /// `webhook-timestamp`.
    pub timestamp: HeaderValue,
    /// `webhook-signature` (marked sensitive: never indexed by HTTP/2 header compression).
    pub signature: HeaderValue,
}

impl SignedHeaders {
    /// Sets the three headers in `headers`, replacing what they held (see [`with_placeholders`]).
    pub fn write_to(&self, headers: &mut HeaderMap) {
        headers.insert(WEBHOOK_ID, self.id.clone());
        headers.insert(WEBHOOK_TIMESTAMP, self.timestamp.clone());
        headers.insert(WEBHOOK_SIGNATURE, self.signature.clone());
    }
}

/// `headers` with empty entries for the three signing headers, so that a try's
/// [`SignedHeaders::write_to`] replaces values in place instead of growing the map.
pub fn with_placeholders(headers: &HeaderMap) -> HeaderMap {
    let mut prepared = HeaderMap::with_capacity(headers.len() + SIGNING_HEADERS.len());
    prepared.extend(headers.clone());
    for name in SIGNING_HEADERS {
        prepared.insert(name, HeaderValue::from_static(""));
    }
    prepared
}

/// Signs the requests of one sink. Cheap to clone (each dispatch lane takes its own copy).
#[derive(Clone)]
pub struct Signer {
    /// One HMAC-SHA256 key state per secret, in the configured order.
    keys: Vec<Hmac<Sha256>>,
    /// Per stream, SHA-256 with the domain, the sink id and the stream already absorbed.
    ids: [Sha256; 2],
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("secrets", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The signer of sink `sink_id` with `secrets`; `None` without secrets (signing is off).
    pub fn new(secrets: &[SigningSecret], sink_id: &str) -> Option<Signer> {
        if secrets.is_empty() {
            return None;
        }
        let keys = secrets
            .iter()
            .map(|secret| {
                <Hmac<Sha256> as Mac>::new_from_slice(&secret.0)
                    .expect("HMAC takes keys of any length")
            })
            .collect();
        let ids = Stream::ALL.map(|stream| {
            let mut hash = Sha256::new();
            hash.update(ID_DOMAIN);
            hash.update((sink_id.len() as u64).to_le_bytes());
            hash.update(sink_id.as_bytes());
            hash.update(stream.as_str().as_bytes());
            hash.update(b"\n");
            hash
        });
        Some(Signer { keys, ids })
    }

    /// The `webhook-id` of `body` on `stream` (see the module docs for why and how).
    pub fn message_id(&self, stream: Stream, body: &[u8]) -> MessageId {
        let digest = self.ids[stream.index()]
            .clone()
            .chain_update(body)
            .finalize();
        let mut id = [0u8; ID_LEN];
        id[..4].copy_from_slice(b"msg_");
        for (pair, byte) in id[4..].chunks_exact_mut(2).zip(digest.iter()) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        MessageId(id)
    }

    /// `v1,<signature>` per secret, space-separated, for `body` sent as `id` at `timestamp`.
    pub fn signature(&self, id: &str, timestamp: u64, body: &[u8]) -> HeaderValue {
        let mut digits = [0u8; 20];
        let timestamp = decimal(timestamp, &mut digits);
        let mut value = BytesMut::with_capacity(self.keys.len() * (SIGNATURE_LEN + 1));
        for key in &self.keys {
            if !value.is_empty() {
                value.extend_from_slice(b" ");
            }
            let mut mac = key.clone();
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp);
            mac.update(b".");
            mac.update(body);
            let tag = mac.finalize().into_bytes();
            let mut encoded = [0u8; SIGNATURE_LEN - 3];
            let written = BASE64
                .encode_slice(tag, &mut encoded)
                .expect("44 bytes hold the base64 of 32");
            value.extend_from_slice(b"v1,");
            value.extend_from_slice(&encoded[..written]);
        }
        let mut header = HeaderValue::from_maybe_shared(value.freeze())
            .expect("`v1,`, base64 and spaces are valid in a header value");
        header.set_sensitive(true);
        header
    }

    /// The three headers of a try of `body` on `stream` made at `now`.
    pub fn headers(&self, stream: Stream, body: &[u8], now: SystemTime) -> SignedHeaders {
        let id = self.message_id(stream, body);
        let seconds = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut digits = [0u8; 20];
        SignedHeaders {
            signature: self.signature(id.as_str(), seconds, body),
            id: HeaderValue::from_bytes(&id.0).expect("`msg_` and hex digits"),
            timestamp: HeaderValue::from_bytes(decimal(seconds, &mut digits))
                .expect("decimal digits"),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `value` in decimal, written at the end of `buffer`.
fn decimal(mut value: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &buffer[start..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The spec's published test vector (the reference libraries' `sign` tests).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: u64 = 1_614_265_330;
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret_of(bytes: &[u8]) -> String {
        format!("whsec_{}", BASE64.encode(bytes))
    }

    fn signer(secrets: &[&str]) -> Signer {
        let secrets: Vec<SigningSecret> = secrets
            .iter()
            .map(|text| SigningSecret::parse(text).unwrap())
            .collect();
        Signer::new(&secrets, "hook").unwrap()
    }

    #[test]
    fn the_spec_test_vector_signs_as_published() {
        let signed = signer(&[SECRET]).signature(MSG_ID, TIMESTAMP, PAYLOAD);
        assert_eq!(signed.to_str().unwrap(), SIGNATURE);
        assert!(signed.is_sensitive());
    }

    #[test]
    fn a_signature_covers_the_id_the_timestamp_and_the_body() {
        let signer = signer(&[SECRET]);
        let signed = signer.signature(MSG_ID, TIMESTAMP, PAYLOAD);
        assert_ne!(signer.signature(MSG_ID, TIMESTAMP + 1, PAYLOAD), signed);
        assert_ne!(signer.signature(MSG_ID, TIMESTAMP, b"{}"), signed);
        assert_ne!(signer.signature("msg_other", TIMESTAMP, PAYLOAD), signed);
        assert_ne!(
            Signer::new(
                &[SigningSecret::parse(&secret_of(&[7; 32])).unwrap()],
                "hook"
            )
            .unwrap()
            .signature(MSG_ID, TIMESTAMP, PAYLOAD),
            signed
        );
    }

    #[test]
    fn several_secrets_give_space_separated_signatures_in_order() {
        let old = secret_of(&[7; 32]);
        let value = signer(&[SECRET, &old]).signature(MSG_ID, TIMESTAMP, PAYLOAD);
        let second = signer(&[&old]).signature(MSG_ID, TIMESTAMP, PAYLOAD);
        assert_eq!(
            value.to_str().unwrap(),
            format!("{SIGNATURE} {}", second.to_str().unwrap())
        );
    }

    #[test]
    fn the_message_id_depends_on_sink_stream_and_body_only() {
        let secret = [SigningSecret::parse(SECRET).unwrap()];
        let hook = Signer::new(&secret, "hook").unwrap();
        let id = hook.message_id(Stream::Events, PAYLOAD);
        assert_eq!(id.as_str().len(), 36);
        assert!(id.as_str().starts_with("msg_"));
        assert!(id.as_str()[4..].bytes().all(|b| HEX.contains(&b)));
        assert_eq!(hook.message_id(Stream::Events, PAYLOAD), id);
        // Not the secrets: a key rotation keeps the ids.
        let rotated = signer(&[&secret_of(&[1; 24]), SECRET]);
        assert_eq!(rotated.message_id(Stream::Events, PAYLOAD), id);
        assert_ne!(hook.message_id(Stream::Users, PAYLOAD), id);
        assert_ne!(hook.message_id(Stream::Events, b"{}"), id);
        let other = Signer::new(&secret, "other").unwrap();
        assert_ne!(other.message_id(Stream::Events, PAYLOAD), id);
    }

    #[test]
    fn the_message_id_is_sha256_of_the_framed_fields() {
        let hook = signer(&[SECRET]);
        let mut hash = Sha256::new();
        hash.update(b"webhook-sink message id v1\n");
        hash.update(4u64.to_le_bytes());
        hash.update(b"hookusers\n");
        hash.update(PAYLOAD);
        let hex: String = hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hook.message_id(Stream::Users, PAYLOAD).as_str(),
            format!("msg_{hex}")
        );
    }

    #[test]
    fn headers_carry_the_id_the_try_time_and_the_signature() {
        let signer = signer(&[SECRET]);
        let at = UNIX_EPOCH + Duration::from_secs(TIMESTAMP) + Duration::from_millis(999);
        let headers = signer.headers(Stream::Events, PAYLOAD, at);
        let id = signer.message_id(Stream::Events, PAYLOAD);
        assert_eq!(headers.id.to_str().unwrap(), id.as_str());
        assert_eq!(headers.timestamp.to_str().unwrap(), "1614265330");
        assert_eq!(
            headers.signature,
            signer.signature(id.as_str(), TIMESTAMP, PAYLOAD)
        );
        let mut map = with_placeholders(&HeaderMap::new());
        assert_eq!(map.len(), 3);
        headers.write_to(&mut map);
        assert_eq!(map.len(), 3);
        assert_eq!(map[WEBHOOK_TIMESTAMP], "1614265330");
    }

    #[test]
    fn secrets_are_refused_without_quoting_them() {
        assert_eq!(
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(
            SigningSecret::parse("whsec_MfKQ9r8G-KYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Base64)
        );
        assert_eq!(
            SigningSecret::parse("whsec_c2hvcnQ="),
            Err(SecretError::Length { bytes: 5 })
        );
        assert_eq!(
            SigningSecret::parse(&secret_of(&[0; 65])),
            Err(SecretError::Length { bytes: 65 })
        );
        for error in [SecretError::Prefix, SecretError::Base64] {
            assert!(!error.to_string().contains("MfKQ9r8G"));
        }
        // Padded and unpadded base64 are both accepted, as by the reference libraries.
        let padded = secret_of(&[9; 25]);
        assert!(padded.ends_with('='));
        assert!(SigningSecret::parse(&padded).is_ok());
        assert!(SigningSecret::parse(padded.trim_end_matches('=')).is_ok());
    }

    #[test]
    fn debug_output_never_shows_secret_bytes() {
        let secret = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(format!("{secret:?}"), "SigningSecret(<redacted>)");
        let debug = format!("{:?}", signer(&[SECRET]));
        assert_eq!(debug, "Signer { secrets: 1, .. }");
    }

    #[test]
    fn decimal_writes_every_digit() {
        let mut buffer = [0u8; 20];
        assert_eq!(decimal(0, &mut buffer), b"0");
        assert_eq!(decimal(1_614_265_330, &mut buffer), b"1614265330");
        assert_eq!(decimal(u64::MAX, &mut buffer), b"18446744073709551615");
    }
}
