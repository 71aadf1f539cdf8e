//! Secrets handed to a client (session cookies, API tokens): give it nothing, get a fresh random
//! secret; give it a secret, get what the database keeps of it (its SHA-256), never the secret itself.

use sha2::{Digest, Sha256};

/// Random bytes in a secret: 256 bits, beyond guessing.
const SECRET_BYTES: usize = 32;

/// The longest secret accepted from a client; anything longer is not one of ours (and is not hashed).
pub const MAX_SECRET_CHARS: usize = 128;

/// A new secret with `prefix` (which says what it is, e.g. in a leaked log): `prefix` + 64 hex digits.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::getrandom(&mut bytes).expect("the operating system provides random bytes");
    let mut secret = String::with_capacity(prefix.len() + SECRET_BYTES * 2);
    secret.push_str(prefix);
    secret.push_str(&hex(&bytes));
    secret
}

/// What the database keeps of a secret: its SHA-256 in hex. A lookup by it costs the same whatever the
/// secret, and the stored value opens nothing.
pub fn fingerprint(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_and_prefixed() {
        let (a, b) = (generate("lore_"), generate("lore_"));
        assert_ne!(a, b);
        assert!(a.starts_with("lore_") && a.len() == 5 + 64, "{a}");
        assert!(a[5..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_fingerprint_is_sha256() {
        assert_eq!(fingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
