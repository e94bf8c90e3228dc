//! Made-up identifiers, drawn from a generator's seeded ChaCha8.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// `len` characters of YouTube's id alphabet.
pub(crate) fn rand_id(rng: &mut ChaCha8Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    (0..len).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// A masked IP, as CyTube shows it to moderators.
pub(crate) fn masked_ip(rng: &mut ChaCha8Rng) -> String {
    // Documentation ranges (RFC 5737), last octet masked.
    let net = ["192.0.2", "198.51.100", "203.0.113"][rng.random_range(0..3)];
    format!("{net}.x")
}
