//! Passwords of local accounts: give it a password, get an Argon2id hash (PHC string, with its salt and
//! parameters); give it a password and a hash, get whether they match. Both take tens of milliseconds
//! of CPU on purpose: call them off the async threads (`spawn_blocking`).

/// Shortest password accepted for a new local account.
pub const MIN_CHARS: usize = 12;
/// Longest password accepted: hashing is bounded work whatever a client sends.
pub const MAX_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password needs at least {MIN_CHARS} characters")]
    TooShort,
    #[error("the password may have at most {MAX_CHARS} characters")]
    TooLong,
}

/// Checks a new password's length (the only rule worth enforcing: length beats character classes).
pub fn check_new(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        n if n < MIN_CHARS => Err(PasswordError::TooShort),
        n if n > MAX_CHARS => Err(PasswordError::TooLong),
        _ => Ok(()),
    }
}

/// Argon2id with a fresh salt, at the library's defaults (OWASP's recommendation: 19 MiB, 2 passes).
/// Blocking.
pub fn hash(password: &str) -> String {
    password_auth::generate_hash(password)
}

/// Whether `password` matches `hash`; false for a malformed hash or an over-long password. Blocking.
pub fn verify(password: &str, hash: &str) -> bool {
    password.chars().count() <= MAX_CHARS && password_auth::verify_password(password, hash).is_ok()
}

/// A hash of no one's password, to check a sign-in for a login that does not exist in the same time as
/// one that does (the response time does not tell which logins exist).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&crate::accounts::secret::generate("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hashed = hash("correct horse battery");
        assert!(hashed.starts_with("$argon2id$"), "{hashed}");
        assert!(verify("correct horse battery", &hashed));
        assert!(!verify("correct horse batterY", &hashed));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(hash("correct horse battery"), hashed, "each hash has its own salt");
    }

    #[test]
    fn new_passwords_are_long_enough_and_bounded() {
        assert_eq!(check_new("short"), Err(PasswordError::TooShort));
        assert_eq!(check_new(&"x".repeat(MAX_CHARS + 1)), Err(PasswordError::TooLong));
        assert_eq!(check_new("twelve chars"), Ok(()));
    }
}
