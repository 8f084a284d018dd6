//! Who may call the endpoint: Discord, proven by an Ed25519 signature over
//! `X-Signature-Timestamp ++ body` made with the application's key, recently.
//!
//! The check runs on the raw bytes before anything is parsed. A request without both headers, or
//! whose signature does not verify against the public key, is refused; so is a validly signed
//! request whose timestamp is more than [`MAX_AGE`] old or more than [`MAX_FUTURE_SKEW`] ahead of
//! this machine's clock (a replay; Discord itself does not ask for this check). The clock is passed
//! in, so every rule is tested without waiting.

use serenity::interactions_endpoint::Verifier;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The variable holding the application's public key (hex), from the developer portal.
pub const PUBLIC_KEY_ENV: &str = "DISCORD_PUBLIC_KEY";
/// Oldest signed timestamp accepted.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// How far ahead of this machine's clock a signed timestamp may be.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(10);

/// The application's Ed25519 public key. Not a secret, but it comes from the environment like the
/// token, so one deployment's key cannot leak into another's configuration file.
#[derive(Clone)]
pub struct PublicKey(Verifier);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublicKey(..)")
    }
}

/// A public key the user must fix. The message never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The variable is unset or empty.
    #[error(
        "no public key: set DISCORD_PUBLIC_KEY to the application's public key (developer portal → your application → General Information → Public Key)"
    )]
    Missing,
    /// The variable holds something else.
    #[error(
        "DISCORD_PUBLIC_KEY is not an Ed25519 public key ({0}); copy it again from the developer portal (your application → General Information → Public Key)"
    )]
    Malformed(&'static str),
}

impl PublicKey {
    /// Reads [`PUBLIC_KEY_ENV`] from the process environment.
    pub fn from_env() -> Result<PublicKey, KeyError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads [`PUBLIC_KEY_ENV`] from the given variables (an empty value counts as unset).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<PublicKey, KeyError> {
        let value = vars.into_iter().find(|(k, v)| k == PUBLIC_KEY_ENV && !v.trim().is_empty());
        match value {
            Some((_, hex)) => Self::parse(&hex),
            None => Err(KeyError::Missing),
        }
    }

    /// Parses 64 hex digits.
    pub fn parse(hex_key: &str) -> Result<PublicKey, KeyError> {
        let hex_key = hex_key.trim();
        if hex_key.len() != 64 {
            return Err(KeyError::Malformed("it must be 64 hexadecimal digits"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_key, &mut bytes)
            .map_err(|_| KeyError::Malformed("it must be 64 hexadecimal digits"))?;
        Verifier::try_new(bytes).map(PublicKey).map_err(|_| KeyError::Malformed("not a valid curve point"))
    }
}

/// Why a request was refused (all are 401 Unauthorized).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A signature header is missing or not text.
    MissingSignature,
    /// The signature does not verify.
    BadSignature,
    /// The signed timestamp is not a number of seconds.
    BadTimestamp,
    /// The signed timestamp is older than [`MAX_AGE`].
    Stale,
    /// The signed timestamp is ahead of the clock by more than [`MAX_FUTURE_SKEW`].
    Future,
}

impl Rejection {
    /// The metric label and log word.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::BadSignature => "bad_signature",
            Rejection::BadTimestamp | Rejection::Stale | Rejection::Future => "timestamp",
        }
    }
}

/// Checks a request's signature headers and body at `now`.
pub fn check(
    key: &PublicKey,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: SystemTime,
) -> Result<(), Rejection> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(Rejection::MissingSignature);
    };
    key.0.verify(signature.trim(), timestamp, body).map_err(|()| Rejection::BadSignature)?;
    let signed_at: u64 = timestamp.trim().parse().map_err(|_| Rejection::BadTimestamp)?;
    let signed_at = UNIX_EPOCH.checked_add(Duration::from_secs(signed_at)).ok_or(Rejection::BadTimestamp)?;
    match now.duration_since(signed_at) {
        Ok(age) if age > MAX_AGE => Err(Rejection::Stale),
        Ok(_) => Ok(()),
        Err(ahead) if ahead.duration() > MAX_FUTURE_SKEW => Err(Rejection::Future),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn pair() -> (SigningKey, PublicKey) {
        let signing = SigningKey::from_bytes(&[7u8; 32]);
        let public = PublicKey::parse(&hex::encode(signing.verifying_key().to_bytes())).unwrap();
        (signing, public)
    }

    fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        hex::encode(key.sign(&[timestamp.as_bytes(), body].concat()).to_bytes())
    }

    #[test]
    fn signatures_and_timestamps() {
        let (signing, key) = pair();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |offset: i64| (1_800_000_000i64 + offset).to_string();
        let body = br#"{"type":1}"#;
        let ok = at(0);
        type Case<'a> = (Option<String>, Option<String>, &'a [u8], Result<(), Rejection>);
        let cases: Vec<Case> = vec![
            (Some(sign(&signing, &ok, body)), Some(ok.clone()), body, Ok(())),
            (None, Some(ok.clone()), body, Err(Rejection::MissingSignature)),
            (Some(sign(&signing, &ok, body)), None, body, Err(Rejection::MissingSignature)),
            (
                Some(sign(&signing, &ok, body)),
                Some(ok.clone()),
                br#"{"type":2}"#,
                Err(Rejection::BadSignature),
            ),
            (Some("zz".repeat(64)), Some(ok.clone()), body, Err(Rejection::BadSignature)),
            (Some("é".repeat(64)), Some(ok.clone()), body, Err(Rejection::BadSignature)),
            (Some(sign(&signing, &at(-299), body)), Some(at(-299)), body, Ok(())),
            (Some(sign(&signing, &at(-301), body)), Some(at(-301)), body, Err(Rejection::Stale)),
            (Some(sign(&signing, &at(9), body)), Some(at(9)), body, Ok(())),
            (Some(sign(&signing, &at(11), body)), Some(at(11)), body, Err(Rejection::Future)),
            (Some(sign(&signing, "soon", body)), Some("soon".into()), body, Err(Rejection::BadTimestamp)),
            (
                Some(sign(&signing, &u64::MAX.to_string(), body)),
                Some(u64::MAX.to_string()),
                body,
                Err(Rejection::BadTimestamp),
            ),
        ];
        for (i, (signature, timestamp, body, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                check(&key, signature.as_deref(), timestamp.as_deref(), body, now),
                expected,
                "case {i}"
            );
        }
    }

    #[test]
    fn the_key_comes_from_the_environment_and_is_never_shown() {
        let vars = |v: &str| vec![(PUBLIC_KEY_ENV.to_string(), v.to_string())];
        assert_eq!(PublicKey::from_vars(vec![]).unwrap_err(), KeyError::Missing);
        assert_eq!(PublicKey::from_vars(vars("  ")).unwrap_err(), KeyError::Missing);
        for bad in ["abc", &"g".repeat(64), &"ab".repeat(33)] {
            let e = PublicKey::from_vars(vars(bad)).unwrap_err();
            assert!(matches!(e, KeyError::Malformed(_)), "{bad}");
            assert!(!e.to_string().contains(bad), "{e}");
        }
        let (_, key) = pair();
        assert_eq!(format!("{key:?}"), "PublicKey(..)");
    }
}
