//! Signing secrets at rest: sealed with ChaCha20-Poly1305 under a key from configuration (or a
//! key file generated on first run), stored as `enc:v1:<base64(nonce ‖ ciphertext)>` (server
//! only). A stored value without the prefix is read as plaintext (rows written before
//! encryption), and is sealed the next time it is written.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;
use std::sync::Arc;

const PREFIX: &str = "enc:v1:";

#[derive(Clone)]
pub struct SecretBox(Arc<ChaCha20Poly1305>);

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the stored secret is not valid sealed data")]
    Malformed,
    #[error("the stored secret does not open with this key (was the encryption key changed?)")]
    WrongKey,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> SecretBox {
        SecretBox(Arc::new(ChaCha20Poly1305::new(Key::from_slice(key))))
    }

    /// A random key (tests, and the first run without a configured key).
    pub fn random_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system RNG is unavailable");
        key
    }

    /// The key from `configured` (base64 of 32 bytes), else from `key_file`, which is created
    /// (mode 0600) with a new random key when it does not exist. Returns whether it was created.
    pub fn load(configured: Option<&str>, key_file: &Path) -> Result<(SecretBox, bool), String> {
        if let Some(k) = configured {
            return Ok((SecretBox::from_key(&parse_key(k)?), false));
        }
        match std::fs::read_to_string(key_file) {
            Ok(k) => Ok((SecretBox::from_key(&parse_key(&k)?), false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretBox::random_key();
                if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                write_private(key_file, &b64().encode(key))
                    .map_err(|e| format!("cannot write {}: {e}", key_file.display()))?;
                Ok((SecretBox::from_key(&key), true))
            }
            Err(e) => Err(format!("cannot read {}: {e}", key_file.display())),
        }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the operating system RNG is unavailable");
        let ciphertext = self
            .0
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("sealing cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        format!("{PREFIX}{}", b64().encode(out))
    }

    /// A webhook's previous signing secret, opened, while its rotation's overlap lasts
    /// (`expires_at` after `now_ms`): it then signs beside the current one. None when there is
    /// none, the overlap is over, or it does not open.
    pub fn open_previous_secret(
        &self,
        sealed: Option<&str>,
        expires_at: Option<i64>,
        now_ms: i64,
    ) -> Option<crate::domain::SigningSecret> {
        sealed
            .filter(|_| expires_at.is_some_and(|t| t > now_ms))
            .and_then(|sealed| self.open(sealed).ok())
            .and_then(|plain| crate::domain::SigningSecret::parse(&plain).ok())
    }

    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        let Some(sealed) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let bytes = b64().decode(sealed).map_err(|_| SecretError::Malformed)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed)
    }
}

fn parse_key(k: &str) -> Result<[u8; 32], String> {
    let bytes = b64()
        .decode(k.trim())
        .map_err(|_| "the encryption key must be base64".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "the encryption key must be 32 bytes (base64 of 32 random bytes)".to_string())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let a = SecretBox::from_key(&SecretBox::random_key());
        let b = SecretBox::from_key(&SecretBox::random_key());
        let sealed = a.seal("whsec_abc");
        assert!(sealed.starts_with("enc:v1:"));
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, a.seal("whsec_abc"), "a fresh nonce each time");
        assert_eq!(a.open(&sealed).unwrap(), "whsec_abc");
        assert!(matches!(b.open(&sealed), Err(SecretError::WrongKey)));
        assert_eq!(
            a.open("whsec_legacy").unwrap(),
            "whsec_legacy",
            "plaintext rows still read"
        );
        assert!(a.open("enc:v1:!!").is_err());
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("skw-key-{}", uuid::Uuid::now_v7()));
        let file = dir.join("secret.key");
        let (first, created) = SecretBox::load(None, &file).unwrap();
        assert!(created);
        let (second, created) = SecretBox::load(None, &file).unwrap();
        assert!(!created);
        assert_eq!(second.open(&first.seal("x")).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(SecretBox::load(Some("short"), &file).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
