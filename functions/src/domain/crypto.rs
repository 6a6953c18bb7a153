//! Secrets at rest (AES-256-GCM) and bearer tokens (random, stored as SHA-256).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    /// `key`: 32 bytes in base64 (what `openssl rand -base64 32` prints).
    pub fn from_key(key: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| anyhow::anyhow!("TERARCHITECT_SECRET_KEY must be base64"))?;
        anyhow::ensure!(
            bytes.len() == 32,
            "TERARCHITECT_SECRET_KEY must decode to 32 bytes, got {}",
            bytes.len()
        );
        Ok(SecretBox {
            cipher: Aes256Gcm::new_from_slice(&bytes).expect("32-byte key"),
        })
    }

    /// nonce (12 bytes) || ciphertext+tag.
    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
                .expect("AES-GCM encrypt"),
        );
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String> {
        if sealed.len() < 12 + 16 {
            return Err(Error::Internal("stored secret is truncated".into()));
        }
        let (nonce, ct) = sealed.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| Error::Internal("a stored secret cannot be decrypted with the configured key".into()))?;
        String::from_utf8(plain).map_err(|_| Error::Internal("stored secret is not UTF-8".into()))
    }
}

/// A new bearer token: `prefix` + 32 random bytes, URL-safe.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn hash_bytes(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = STANDARD.encode([7u8; 32]);
        let b = SecretBox::from_key(&key).unwrap();
        let sealed = b.seal("sk-secret");
        assert!(!sealed.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(b.open(&sealed).unwrap(), "sk-secret");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(b.open(&bad).is_err());
        let other = SecretBox::from_key(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn key_must_be_32_bytes() {
        assert!(SecretBox::from_key("c2hvcnQ=").is_err());
        assert!(SecretBox::from_key("not base64!").is_err());
    }

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = new_token("tt_");
        assert!(a.starts_with("tt_") && a.len() > 40);
        assert_ne!(a, new_token("tt_"));
        assert_eq!(hash_token(&a), hash_token(&a));
    }
}
