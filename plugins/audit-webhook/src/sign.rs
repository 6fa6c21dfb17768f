//! Request signing: `X-Gatehouse-Signature: sha256=<hex>` where `<hex>` is
//! HMAC-SHA256 with the shared secret over `<timestamp>.<body>`, and
//! `X-Gatehouse-Timestamp: <timestamp>` (Unix seconds).
//!
//! The timestamp is inside the signed text so a receiver can refuse old
//! deliveries (replays) by checking it against its clock; the event id in
//! the body lets it refuse duplicates. Receivers must compare signatures in
//! constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";
pub const TIMESTAMP_HEADER: &str = "x-gatehouse-timestamp";

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_vector_and_our_format() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Same MAC over "<ts>.<body>", split where we split it.
        let mut whole = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        whole.update(b"1700000000.{}");
        let expected = format!("sha256={}", hex::encode(whole.finalize().into_bytes()));
        assert_eq!(signature(b"k", 1_700_000_000, b"{}"), expected);
    }
}
