//! The two signatures every request carries.
//!
//! * `X-Webhook-Signature`: lowercase hex of HMAC-SHA256 keyed with the secret string exactly as
//!   the owner sees it (`whsec_…`), over the exact body bytes.
//! * Standard Webhooks `webhook-signature`: `v1,` + base64 of HMAC-SHA256 keyed with the
//!   base64-decoded part of the secret, over `{webhook-id}.{webhook-timestamp}.{body}`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::SigningSecret;

type HmacSha256 = Hmac<Sha256>;

/// The `X-Webhook-Signature` value.
pub fn seed_signature(secret: &SigningSecret, body: &[u8]) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// One `v1,<base64>` entry of the `webhook-signature` header.
pub fn standard_signature(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut mac =
        HmacSha256::new_from_slice(&secret.key_bytes()).expect("HMAC takes any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = standard_signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn seed_signature_is_lowercase_hex_of_the_whole_secret_string() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = seed_signature(&secret, b"{}");
        assert_eq!(sig.len(), 64);
        assert!(sig
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_ne!(sig, seed_signature(&secret, b"{} "));
    }
}
