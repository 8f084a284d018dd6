//! The key that turns a user id into a pseudonym before anything is written.
//!
//! A user id is never stored: the records keep `HMAC-SHA256(key, "user:" + id)` in hex, which lets
//! the report count distinct askers and one vote per person without anyone who reads the file (or
//! a copy of it) being able to tell who asked. Unlike a plain hash, the keyed one cannot be
//! reversed by hashing every possible Discord id, as long as the key stays secret.
//!
//! The key comes from the environment variable [`KEY_ENV`]. When it is unset, a random key is made
//! once and kept in [`KEY_FILE`] beside the database, readable by its owner only (0600), and a
//! warning says so: the pseudonyms then stay stable across restarts, but the key travels with the
//! data directory, so a copy of that directory is only as private as the copy of the key in it.
//! Setting the variable keeps the key out of the data directory altogether.

use super::RecordsError;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable holding the pseudonym key (any text; 32 or more characters advised).
pub const KEY_ENV: &str = "CITEBOT_RECORDS_KEY";
/// The file, beside the database, that keeps a generated key when [`KEY_ENV`] is unset.
pub const KEY_FILE: &str = "records.key";
/// Length of a generated key, in bytes.
const GENERATED_KEY_BYTES: usize = 32;
/// Keys shorter than this are accepted with a warning.
const SHORT_KEY_BYTES: usize = 16;

/// The secret key for user pseudonyms. Its `Debug` form never shows the key.
#[derive(Debug)]
pub struct UserKey {
    secret: SecretSlice<u8>,
}

/// Where the key in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The environment variable [`KEY_ENV`].
    Environment,
    /// A key file that already existed.
    File(PathBuf),
    /// A key file made now.
    Generated(PathBuf),
}

impl UserKey {
    /// A key from raw bytes (for tests and embedding).
    pub fn new(bytes: impl Into<Vec<u8>>) -> UserKey {
        UserKey { secret: SecretSlice::from(bytes.into()) }
    }

    /// The key from `env_value` (the value of [`KEY_ENV`], if set and not blank), else from
    /// `dir/records.key`, made with a fresh random key if it does not exist yet.
    pub fn load(env_value: Option<&str>, dir: &Path) -> Result<(UserKey, KeyOrigin), RecordsError> {
        if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
            if value.len() < SHORT_KEY_BYTES {
                tracing::warn!(
                    "{KEY_ENV} is shorter than {SHORT_KEY_BYTES} characters; a longer random key protects the user pseudonyms better"
                );
            }
            return Ok((UserKey::new(value.as_bytes()), KeyOrigin::Environment));
        }
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable_by_others(&path);
                let bytes = hex::decode(text.trim()).ok().filter(|b| !b.is_empty()).ok_or_else(|| {
                    RecordsError::Key {
                        path: path.clone(),
                        reason: "it does not hold a hexadecimal key. Delete it to have a new one made (past pseudonyms will no longer match new ones), or set CITEBOT_RECORDS_KEY".into(),
                    }
                })?;
                Ok((UserKey::new(bytes), KeyOrigin::File(path)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = generate(&path)?;
                tracing::warn!(
                    "{KEY_ENV} is not set: made a random key for user pseudonyms in {} (owner-only). Set {KEY_ENV} to keep the key out of the data directory",
                    path.display()
                );
                Ok((key, KeyOrigin::Generated(path)))
            }
            Err(e) => Err(RecordsError::Key { path, reason: format!("it could not be read ({e})") }),
        }
    }

    /// The pseudonym of a user id: lower-case hex HMAC-SHA256 of `user:{id}`.
    pub fn pseudonym(&self, user_id: u64) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret.expose_secret())
            .expect("HMAC takes keys of any length");
        mac.update(b"user:");
        mac.update(user_id.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn generate(path: &Path) -> Result<UserKey, RecordsError> {
    let err = |reason: String| RecordsError::Key { path: path.to_path_buf(), reason };
    let mut bytes = vec![0u8; GENERATED_KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| err(format!("no random key could be made ({e})")))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let written = file
                .write_all(hex::encode(&bytes).as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all());
            if let Err(e) = written {
                // A half-written key file would be read as damaged next time.
                let _ = std::fs::remove_file(path);
                return Err(err(format!("it could not be written ({e})")));
            }
            Ok(UserKey::new(bytes))
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text =
                std::fs::read_to_string(path).map_err(|e| err(format!("it could not be read ({e})")))?;
            hex::decode(text.trim())
                .map(UserKey::new)
                .map_err(|_| err("it does not hold a hexadecimal key".into()))
        }
        Err(e) => Err(err(format!("it could not be created ({e})"))),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "the pseudonym key {} is readable by other users; run chmod 600 on it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_stable_and_hide_the_id() {
        let a = UserKey::new(b"one key".to_vec());
        let b = UserKey::new(b"another key".to_vec());
        let id = 123_456_789_012_345_678;
        assert_eq!(a.pseudonym(id), a.pseudonym(id));
        assert_ne!(a.pseudonym(id), b.pseudonym(id));
        assert_ne!(a.pseudonym(id), a.pseudonym(id + 1));
        assert_eq!(a.pseudonym(id).len(), 64);
        assert!(!a.pseudonym(id).contains(&id.to_string()));
        assert!(!format!("{a:?}").contains("one key"));
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_generated_key_is_kept_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, origin) = UserKey::load(None, dir.path()).unwrap();
        assert_eq!(origin, KeyOrigin::Generated(dir.path().join(KEY_FILE)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (k2, origin) = UserKey::load(Some("  "), dir.path()).unwrap();
        assert_eq!(origin, KeyOrigin::File(dir.path().join(KEY_FILE)));
        assert_eq!(k1.pseudonym(7), k2.pseudonym(7));
        let (k3, origin) = UserKey::load(Some("from the environment"), dir.path()).unwrap();
        assert_eq!(origin, KeyOrigin::Environment);
        assert_ne!(k1.pseudonym(7), k3.pseudonym(7));
    }

    #[test]
    fn a_damaged_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not hex at all").unwrap();
        let e = UserKey::load(None, dir.path()).unwrap_err();
        assert!(e.to_string().contains("Delete it"), "{e}");
    }
}
