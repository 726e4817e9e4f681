//! Host keys: derived from (seed, device name) so a client's known_hosts keeps matching a fleet
//! across restarts, plus the one RSA key that every `legacy` device shares.
//!
//! Derivation is deterministic and therefore not secret: these keys protect nothing but a
//! simulator on loopback. Must not be used for anything else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use russh::keys::ssh_key::private::{Ed25519Keypair, RsaKeypair};
use russh::keys::ssh_key::rand_core::{TryCryptoRng, TryRng};
use russh::keys::{PrivateKey, PublicKey};
use sha2::{Digest, Sha256};

/// 32 bytes that depend only on the seed and the label.
fn derive_seed(seed: u64, label: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"netsweep-sim host key v1\0");
    hasher.update(seed.to_be_bytes());
    hasher.update(label.as_bytes());
    hasher.finalize().into()
}

/// The device's own Ed25519 host key.
pub(crate) fn device_host_key(seed: u64, device: &str) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&derive_seed(seed, device)))
}

/// A fresh random Ed25519 key, for `hostkey-change` devices.
pub(crate) fn random_host_key() -> PrivateKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    PrivateKey::from(Ed25519Keypair::from_seed(&bytes))
}

/// The RSA-2048 key shared by every `legacy` device of a seed. Generating one costs about a
/// second, so it is made once per seed per process.
pub(crate) fn shared_rsa_host_key(seed: u64) -> Arc<PrivateKey> {
    static CACHE: OnceLock<Mutex<HashMap<u64, Arc<PrivateKey>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(seed)
        .or_insert_with(|| {
            let mut rng = SeededRng(ChaCha20Rng::from_seed(derive_seed(seed, "\0legacy-rsa")));
            let keypair =
                RsaKeypair::random(&mut rng, 2048).expect("RSA-2048 generation cannot fail");
            Arc::new(PrivateKey::from(keypair))
        })
        .clone()
}

/// Parses one OpenSSH `authorized_keys` line (`ssh-ed25519 AAAA… comment`).
pub(crate) fn parse_authorized_key(line: &str) -> Result<PublicKey, String> {
    PublicKey::from_openssh(line.trim()).map_err(|e| e.to_string())
}

/// The public half as an OpenSSH line without a comment (`ssh-ed25519 AAAA…`).
pub(crate) fn openssh_public_line(key: &PrivateKey) -> String {
    let mut public = key.public_key().clone();
    public.set_comment("");
    public
        .to_openssh()
        .expect("encoding a public key cannot fail")
        .trim()
        .to_owned()
}

/// Adapts the workspace's ChaCha (rand_core 0.9) to the rand_core 0.10 traits ssh-key wants.
struct SeededRng(ChaCha20Rng);

impl TryRng for SeededRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.0.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.0.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_bytes(dst);
        Ok(())
    }
}

// ChaCha20 is a cryptographically secure generator; only its seeding is deliberately public.
impl TryCryptoRng for SeededRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_keys_depend_on_seed_and_name_only() {
        let a = openssh_public_line(&device_host_key(1, "r1"));
        assert_eq!(a, openssh_public_line(&device_host_key(1, "r1")));
        assert_ne!(a, openssh_public_line(&device_host_key(2, "r1")));
        assert_ne!(a, openssh_public_line(&device_host_key(1, "r2")));
        assert!(a.starts_with("ssh-ed25519 "), "{a}");
    }
}
