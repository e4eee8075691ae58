//! Identifiers. A user's id is their Cognito `sub`; every other id is a ULID, so ids sort by
//! creation time and history paging is a key condition rather than a filter.

use rand::RngExt as _;
use std::sync::Mutex;

use ulid::{Generator, Ulid};

/// One generator per process, so ids made in the same millisecond still increase.
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// A fresh ULID as its canonical 26-character string, increasing within this process.
pub fn new_id() -> String {
    let mut generator = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Overflow needs 2^80 ids in one millisecond; fall back to a plain random ULID regardless.
    generator.generate().unwrap_or_else(|_| Ulid::generate()).to_string()
}

/// Whether `id` is a canonical (upper-case Crockford base32) ULID.
pub fn is_ulid(id: &str) -> bool {
    id.len() == 26 && Ulid::from_string(id).is_ok_and(|ulid| ulid.to_string() == id)
}

/// Whether `id` looks like a Cognito `sub` (a UUID) — what every user id is.
pub fn is_user_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

const INVITE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// Invite codes are bearer secrets: 10 characters from 57 is about 58 bits, too many to guess.
pub const INVITE_CODE_LENGTH: usize = 10;

/// A fresh, unguessable invite code (no look-alike characters).
pub fn new_invite_code() -> String {
    let mut rng = rand::rng();
    (0..INVITE_CODE_LENGTH)
        .map(|_| char::from(INVITE_ALPHABET[rng.random_range(0..INVITE_ALPHABET.len())]))
        .collect()
}

/// Whether `code` could be an invite code we issued.
pub fn is_invite_code(code: &str) -> bool {
    code.len() == INVITE_CODE_LENGTH && code.bytes().all(|byte| INVITE_ALPHABET.contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_ulids_and_sort_by_time() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(ids.iter().all(|id| is_ulid(id)));
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn rejects_lowercase_short_and_foreign_ulids() {
        assert!(!is_ulid(&new_id().to_lowercase()));
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA"));
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA#"));
        assert!(!is_ulid("MSG#01ARZ3NDEKTSV4RRFFQ69G"));
    }

    #[test]
    fn recognises_cognito_subs() {
        assert!(is_user_id("0c6a8b1e-5f3d-4e2a-9b7c-1d2e3f4a5b6c"));
        assert!(!is_user_id("0c6a8b1e-5f3d-4e2a-9b7c-1d2e3f4a5b6"));
        assert!(!is_user_id("0c6a8b1e#5f3d-4e2a-9b7c-1d2e3f4a5b6c"));
    }

    #[test]
    fn invite_codes_are_valid_and_distinct() {
        let first = new_invite_code();
        assert!(is_invite_code(&first));
        assert_ne!(first, new_invite_code());
        assert!(!is_invite_code("short"));
        assert!(!is_invite_code("O0O0O0O0O0"));
    }
}
