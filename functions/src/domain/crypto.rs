//! Secrets at rest (AES-256-GCM) and bearer tokens (random, stored as SHA-256).
//!
//! A sealed secret is `nonce (12 bytes) || ciphertext+tag`, stored with the id of the key
//! that sealed it ([`key_id`]) and bound by associated data to where it belongs (the
//! caller's choice: settings use scope and key), so a value copied to another row does not
//! open. Rows from before key ids existed have no id and no associated data; they still
//! open, under any configured key, until a rotation re-seals them.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Why a stored secret does not open. Never a panic: the caller says which setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "it was sealed with key {0}, which is neither TERARCHITECT_SECRET_KEY nor one of \
         TERARCHITECT_SECRET_KEY_PREVIOUS"
    )]
    UnknownKey(String),
    #[error("it does not open with key {0}: it was sealed for another setting or project, or it was altered")]
    Mismatch(String),
    #[error("it was sealed without a key id (before key rotation) and opens with none of the configured keys")]
    LegacyMismatch,
    #[error("it is truncated")]
    Truncated,
    #[error("it is not UTF-8")]
    NotUtf8,
}

/// A secret as stored: which key sealed it (None: the format before key ids, without
/// associated data) and the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: Option<String>,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({:?}, {} bytes)", self.key_id, self.bytes.len())
    }
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn parse(key: &str, var: &str) -> anyhow::Result<Key> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| anyhow::anyhow!("{var} must be base64"))?;
        anyhow::ensure!(bytes.len() == 32, "{var} must decode to 32 bytes, got {}", bytes.len());
        Ok(Key {
            id: key_id(&bytes),
            cipher: Aes256Gcm::new_from_slice(&bytes).expect("32-byte key"),
        })
    }

    fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ct) = sealed.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .ok()
    }
}

/// A key's id: the first 8 bytes of its SHA-256, in hex. Names the key without revealing it.
pub fn key_id(key: &[u8]) -> String {
    Sha256::digest(key)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The current key, which seals, and previous keys, which only open (for rotation).
pub struct SecretBox {
    current: Key,
    previous: Vec<Key>,
}

impl SecretBox {
    /// `key`: 32 bytes in base64 (what `openssl rand -base64 32` prints).
    pub fn from_key(key: &str) -> anyhow::Result<Self> {
        Self::with_previous(key, &[])
    }

    /// `current` seals and opens; each of `previous` (same format) only opens.
    pub fn with_previous(current: &str, previous: &[&str]) -> anyhow::Result<Self> {
        Ok(SecretBox {
            current: Key::parse(current, "TERARCHITECT_SECRET_KEY")?,
            previous: previous
                .iter()
                .map(|k| Key::parse(k, "each of TERARCHITECT_SECRET_KEY_PREVIOUS"))
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// The id of the key that seals.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plain` with the current key, bound to `aad`.
    pub fn seal(&self, plain: &str, aad: &[u8]) -> Sealed {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let mut bytes = nonce.to_vec();
        bytes.extend(
            self.current
                .cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: plain.as_bytes(),
                        aad,
                    },
                )
                .expect("AES-GCM encrypt"),
        );
        Sealed {
            key_id: Some(self.current.id.clone()),
            bytes,
        }
    }

    /// Opens a secret sealed by [`SecretBox::seal`] with the same `aad` under the current or
    /// a previous key, or one in the format before key ids (no associated data) under any.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<String, SecretError> {
        if sealed.bytes.len() < 12 + 16 {
            return Err(SecretError::Truncated);
        }
        let keys = || std::iter::once(&self.current).chain(&self.previous);
        let plain = match &sealed.key_id {
            Some(id) => keys()
                .find(|k| &k.id == id)
                .ok_or_else(|| SecretError::UnknownKey(id.clone()))?
                .decrypt(&sealed.bytes, aad)
                .ok_or_else(|| SecretError::Mismatch(id.clone()))?,
            None => keys()
                .find_map(|k| k.decrypt(&sealed.bytes, b""))
                .ok_or(SecretError::LegacyMismatch)?,
        };
        String::from_utf8(plain).map_err(|_| SecretError::NotUtf8)
    }

    /// Whether `sealed` is already in the current form (current key, with a key id).
    pub fn is_current(&self, sealed: &Sealed) -> bool {
        sealed.key_id.as_deref() == Some(self.current.id.as_str())
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

    fn key(b: u8) -> String {
        STANDARD.encode([b; 32])
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let b = SecretBox::from_key(&key(7)).unwrap();
        let sealed = b.seal("sk-secret", b"global|k");
        assert_eq!(sealed.key_id.as_deref(), Some(b.key_id()));
        assert!(!sealed.bytes.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(b.open(&sealed, b"global|k").unwrap(), "sk-secret");
        let mut bad = sealed.clone();
        *bad.bytes.last_mut().unwrap() ^= 1;
        assert!(matches!(b.open(&bad, b"global|k"), Err(SecretError::Mismatch(_))));
        let other = SecretBox::from_key(&key(8)).unwrap();
        assert_eq!(
            other.open(&sealed, b"global|k"),
            Err(SecretError::UnknownKey(b.key_id().to_string()))
        );
    }

    #[test]
    fn associated_data_binds_a_secret_to_its_place() {
        let b = SecretBox::from_key(&key(7)).unwrap();
        let sealed = b.seal("sk-secret", b"global|director_llm_key");
        assert!(matches!(
            b.open(&sealed, b"global|worker_llm_key"),
            Err(SecretError::Mismatch(_))
        ));
    }

    #[test]
    fn previous_keys_open_and_legacy_rows_open_without_associated_data() {
        let old = SecretBox::from_key(&key(1)).unwrap();
        let sealed = old.seal("sk-old", b"aad");
        // The format before key ids: nonce || ct, no associated data.
        let legacy = {
            let cipher = Aes256Gcm::new_from_slice(&[1u8; 32]).unwrap();
            let mut bytes = vec![5u8; 12];
            bytes.extend(
                cipher
                    .encrypt(Nonce::from_slice(&[5u8; 12]), b"sk-legacy".as_ref())
                    .unwrap(),
            );
            Sealed { key_id: None, bytes }
        };
        let rotated = SecretBox::with_previous(&key(2), &[&key(1)]).unwrap();
        assert_eq!(rotated.open(&sealed, b"aad").unwrap(), "sk-old");
        assert_eq!(rotated.open(&legacy, b"anything").unwrap(), "sk-legacy");
        assert!(!rotated.is_current(&sealed) && !rotated.is_current(&legacy));
        assert!(rotated.is_current(&rotated.seal("x", b"aad")));
        let only_new = SecretBox::from_key(&key(2)).unwrap();
        assert_eq!(only_new.open(&legacy, b""), Err(SecretError::LegacyMismatch));
        let truncated = Sealed {
            key_id: None,
            bytes: vec![0; 20],
        };
        assert_eq!(only_new.open(&truncated, b""), Err(SecretError::Truncated));
    }

    #[test]
    fn key_must_be_32_bytes() {
        assert!(SecretBox::from_key("c2hvcnQ=").is_err());
        assert!(SecretBox::from_key("not base64!").is_err());
        assert!(SecretBox::with_previous(&key(1), &["c2hvcnQ="]).is_err());
        // Ids are stable and differ between keys.
        assert_eq!(key_id(&[1u8; 32]), key_id(&[1u8; 32]));
        assert_ne!(key_id(&[1u8; 32]), key_id(&[2u8; 32]));
        assert_eq!(key_id(&[1u8; 32]).len(), 16);
    }

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = new_token("tt_");
        assert!(a.starts_with("tt_") && a.len() > 40);
        assert_ne!(a, new_token("tt_"));
        assert_eq!(hash_token(&a), hash_token(&a));
    }
}
