use serde::{Deserialize, Serialize};

/// A webhook's signing secret: `whsec_` followed by the base64 of 24 to 64 random bytes
/// (we generate 32). Receivers key the `X-Webhook-Signature` HMAC with this whole string, and
/// the Standard Webhooks `webhook-signature` HMAC with the decoded bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret(String);

pub const SECRET_PREFIX: &str = "whsec_";

impl SigningSecret {
    pub fn parse(input: &str) -> Result<SigningSecret, String> {
        let Some(b64) = input.strip_prefix(SECRET_PREFIX) else {
            return Err("A signing secret starts with whsec_.".into());
        };
        let len = decoded_len(b64).ok_or("A signing secret is whsec_ followed by base64.")?;
        if !(24..=64).contains(&len) {
            return Err("A signing secret holds 24 to 64 bytes.".into());
        }
        Ok(SigningSecret(input.to_string()))
    }

    /// The secret exactly as the owner sees and copies it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `whsec_••••••••Ab3d`: enough to recognise it, not enough to use it.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks any secret string, keeping the `whsec_` prefix and the last four characters.
pub fn mask(secret: &str) -> String {
    let tail: String = {
        let chars: Vec<char> = secret.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("{SECRET_PREFIX}{}{tail}", "•".repeat(20))
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningSecret({})", self.masked())
    }
}

/// The number of bytes a standard (padded) base64 string decodes to, if it is well formed.
fn decoded_len(b64: &str) -> Option<usize> {
    let bytes = b64.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return None;
    }
    let body = &bytes[..bytes.len() - pad];
    if !body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    {
        return None;
    }
    Some(bytes.len() / 4 * 3 - pad)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use base64::Engine;

    impl SigningSecret {
        /// A new secret from 32 bytes of the operating system's RNG.
        pub fn generate() -> SigningSecret {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the operating system RNG is unavailable");
            SigningSecret(format!(
                "{SECRET_PREFIX}{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ))
        }

        /// The decoded key bytes (the Standard Webhooks HMAC key).
        pub fn key_bytes(&self) -> Vec<u8> {
            base64::engine::general_purpose::STANDARD
                .decode(&self.0[SECRET_PREFIX.len()..])
                .expect("a parsed secret is valid base64")
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn generated_secrets_parse_and_differ() {
            let a = SigningSecret::generate();
            let b = SigningSecret::generate();
            assert_ne!(a, b);
            assert_eq!(SigningSecret::parse(a.expose()).unwrap(), a);
            assert_eq!(a.key_bytes().len(), 32);
            assert!(!format!("{a:?}").contains(&a.expose()[6..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in ["", "whsec_", "sk_abc", "whsec_!!!!", "whsec_QUJD"] {
            assert!(SigningSecret::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let ok = format!("whsec_{}", "QUJD".repeat(8)); // 24 bytes
        assert!(SigningSecret::parse(&ok).is_ok());
    }

    #[test]
    fn masking_keeps_only_the_tail() {
        let m = mask("whsec_abcdefghijklmnopWXYZ");
        assert!(m.starts_with("whsec_"));
        assert!(m.ends_with("WXYZ"));
        assert!(!m.contains("abcd"));
    }
}
