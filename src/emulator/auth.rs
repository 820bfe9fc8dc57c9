//! Who is calling: SDK-HMAC-SHA256 signatures (checked by `auth::verify`) or an IAM token this
//! emulator issued. Error messages never carry keys, signatures or tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::config::EmulatorConfig;
use super::state::Actor;
use crate::auth::signer::{signatures_match, Authorization};
use crate::auth::verify::{verify, ReceivedRequest, VerifyError};

/// Header of IAM tokens.
pub const TOKEN_HEADER: &str = "x-auth-token";
/// Header of the security token of temporary AK/SK.
pub const SECURITY_TOKEN_HEADER: &str = "x-security-token";

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither a signature nor a token.
    #[error("no credentials: sign the request (SDK-HMAC-SHA256) or send X-Auth-Token")]
    Missing,
    /// The signature does not check out.
    #[error("signature refused: {0}")]
    Signature(#[from] VerifyError),
    /// The access key needs a security token and the request's is missing or different.
    #[error("X-Security-Token is missing or does not belong to this access key")]
    SecurityToken,
    /// Not a token this IAM issued.
    #[error("X-Auth-Token is not a valid token")]
    UnknownToken,
    /// The token has expired.
    #[error("X-Auth-Token has expired")]
    ExpiredToken,
    /// Too many signatures in a row failed: the key is locked for a while.
    #[error("AK access failed to reach the limit,forbidden")]
    Locked,
    /// The token is scoped to another region's project.
    #[error("X-Auth-Token is scoped to the project of {token}, not of {region}")]
    TokenRegion {
        /// The token's region.
        token: String,
        /// The routed region.
        region: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Domain and user (or access key).
    pub actor: Actor,
    /// The project a token is scoped to; `None` for AK/SK.
    pub token_project: Option<String>,
    /// Operations an access key is limited to; `None`: all.
    pub operations: Option<Vec<String>>,
}

impl Caller {
    /// The caller's project in `region`: the token's, or the key's domain's from the config.
    pub fn project_in(&self, config: &EmulatorConfig, region: &str) -> Option<String> {
        match &self.token_project {
            Some(project) => Some(project.clone()),
            None => config.project_id(&self.actor.domain_name, region),
        }
    }

    /// Whether the caller may call `operation`.
    pub fn may(&self, operation: &str) -> bool {
        self.operations
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|op| op == operation))
    }
}

/// A token IAM issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// Domain and user.
    pub actor: Actor,
    /// Region whose project it is scoped to.
    pub region: String,
    /// That project's id.
    pub project_id: String,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
}

/// Tokens issued so far.
#[derive(Debug, Default)]
pub struct Tokens(Mutex<HashMap<String, IssuedToken>>);

impl Tokens {
    /// Stores `token` under a fresh random value and returns the value.
    pub fn issue(&self, token: IssuedToken) -> String {
        let value = format!(
            "MIIemu{}",
            hex::encode(rand::thread_rng().gen::<[u8; 32]>())
        );
        let mut tokens = self.0.lock().expect("tokens lock");
        let now = Utc::now();
        tokens.retain(|_, t| t.expires_at > now);
        tokens.insert(value.clone(), token);
        value
    }

    /// Invalidates every token issued so far (as a password change or a revocation would);
    /// returns how many were still valid.
    pub fn revoke_all(&self) -> usize {
        let mut tokens = self.0.lock().expect("tokens lock");
        let now = Utc::now();
        let valid = tokens.values().filter(|t| t.expires_at > now).count();
        tokens.clear();
        valid
    }

    /// The token issued as `value`, if it still stands.
    pub fn find(&self, value: &str) -> Option<IssuedToken> {
        self.0.lock().expect("tokens lock").get(value).cloned()
    }

    /// Invalidates the token issued as `value`.
    pub fn revoke(&self, value: &str) {
        self.0.lock().expect("tokens lock").remove(value);
    }
}

/// Failed signatures in a row per access key, and the keys locked for it, as the API gateway
/// keeps them: a key whose signatures failed `limit` times in a row is refused, even with a
/// good signature, until `duration` has passed; a good signature resets the count.
#[derive(Debug, Default)]
pub struct Lockouts(Mutex<HashMap<String, KeyFailures>>);

#[derive(Debug, Default, Clone, Copy)]
struct KeyFailures {
    in_a_row: u32,
    locked_until: Option<DateTime<Utc>>,
}

impl Lockouts {
    fn is_locked(&self, access_key: &str, now: DateTime<Utc>) -> bool {
        let map = self.0.lock().expect("lockouts lock");
        map.get(access_key)
            .and_then(|f| f.locked_until)
            .is_some_and(|until| until > now)
    }

    fn record(
        &self,
        access_key: &str,
        ok: bool,
        limit: u32,
        duration: Duration,
        now: DateTime<Utc>,
    ) {
        let mut map = self.0.lock().expect("lockouts lock");
        if ok {
            map.remove(access_key);
            return;
        }
        let failures = map.entry(access_key.to_string()).or_default();
        if failures.locked_until.is_some_and(|until| until <= now) {
            *failures = KeyFailures::default();
        }
        failures.in_a_row += 1;
        if limit > 0 && failures.in_a_row >= limit {
            let duration = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
            failures.locked_until = Some(now + duration);
        }
    }

    /// Unlocks every key and forgets every failure.
    pub fn clear(&self) {
        self.0.lock().expect("lockouts lock").clear();
    }
}

/// A header of `request`, by case-insensitive name.
pub fn header<'a>(request: &'a ReceivedRequest<'_>, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks the request's signature when it has an `Authorization` header (any request may
/// carry one; a present one must verify). `Ok(None)` when unsigned.
pub fn check_signature(
    config: &EmulatorConfig,
    lockouts: &Lockouts,
    request: &ReceivedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Caller>, AuthError> {
    let Some(authorization) = header(request, "authorization") else {
        return Ok(None);
    };
    let key_of = |ak: &str| config.access_keys.iter().find(|k| k.access_key == ak);
    // Failures count against a key only once the key is known to exist.
    let claimed = Authorization::parse(authorization)
        .ok()
        .map(|a| a.access_key)
        .filter(|ak| key_of(ak).is_some());
    if claimed
        .as_deref()
        .is_some_and(|ak| lockouts.is_locked(ak, now))
    {
        return Err(AuthError::Locked);
    }
    let skew = chrono::Duration::from_std(config.max_clock_skew).unwrap_or(chrono::Duration::MAX);
    let verified = verify(
        request,
        |ak| key_of(ak).map(|k| k.secret_key.expose()),
        now,
        skew,
    );
    if let Some(ak) = &claimed {
        let (limit, duration) = (config.key_lockout_failures, config.key_lockout);
        lockouts.record(ak, verified.is_ok(), limit, duration, now);
    }
    let access_key = verified?;
    let key = key_of(&access_key).expect("verify found the key");
    if let Some(expected) = &key.security_token {
        let sent = header(request, SECURITY_TOKEN_HEADER).unwrap_or_default();
        if !signatures_match(sent, expected.expose()) {
            return Err(AuthError::SecurityToken);
        }
    }
    let domain = config
        .domain(&key.domain)
        .expect("the config check found the domain");
    Ok(Some(Caller {
        actor: Actor {
            domain_id: domain.id.clone(),
            domain_name: domain.name.clone(),
            operator_id: access_key.clone(),
            operator_name: access_key,
        },
        token_project: None,
        operations: key.operations.clone(),
    }))
}

/// Authenticates a request by signature or token. With `region`, a token must be scoped to
/// that region's project (SWR, HSS); without, any valid token will do (IAM).
pub fn authenticate(
    config: &EmulatorConfig,
    (tokens, lockouts): (&Tokens, &Lockouts),
    request: &ReceivedRequest<'_>,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Caller, AuthError> {
    if let Some(caller) = check_signature(config, lockouts, request, now)? {
        return Ok(caller);
    }
    let value = header(request, TOKEN_HEADER).ok_or(AuthError::Missing)?;
    let token = tokens.find(value).ok_or(AuthError::UnknownToken)?;
    if token.expires_at <= now {
        return Err(AuthError::ExpiredToken);
    }
    if let Some(region) = region.filter(|r| *r != token.region) {
        return Err(AuthError::TokenRegion {
            token: token.region,
            region: region.into(),
        });
    }
    Ok(Caller {
        actor: token.actor,
        token_project: Some(token.project_id),
        operations: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::fixtures::actor;

    fn request<'a>(headers: &'a [(String, String)]) -> ReceivedRequest<'a> {
        ReceivedRequest {
            method: "GET",
            path: "/v2/manage/regions",
            raw_query: "",
            headers,
            body: b"",
        }
    }

    fn issued(tokens: &Tokens, region: &str, lifetime: chrono::Duration) -> String {
        tokens.issue(IssuedToken {
            actor: actor(),
            region: region.into(),
            project_id: "p".into(),
            expires_at: Utc::now() + lifetime,
        })
    }

    #[test]
    fn tokens_are_checked_for_validity_expiry_and_region() {
        let config = EmulatorConfig::embedded_default();
        let tokens = Tokens::default();
        let good = issued(&tokens, "cn-north-4", chrono::Duration::hours(1));
        let expired = issued(&tokens, "cn-north-4", chrono::Duration::seconds(-1));
        let check = |value: &str, region| {
            let headers = [("X-Auth-Token".to_string(), value.to_string())];
            authenticate(
                &config,
                (&tokens, &Lockouts::default()),
                &request(&headers),
                region,
                Utc::now(),
            )
        };
        let caller = check(&good, Some("cn-north-4")).unwrap();
        assert_eq!(caller.token_project.as_deref(), Some("p"));
        assert_eq!(check(&good, None).unwrap(), caller);
        assert!(matches!(
            check(&good, Some("cn-east-3")),
            Err(AuthError::TokenRegion { .. })
        ));
        assert_eq!(check(&expired, None), Err(AuthError::ExpiredToken));
        assert_eq!(check("forged", None), Err(AuthError::UnknownToken));
        assert_eq!(
            authenticate(
                &config,
                (&tokens, &Lockouts::default()),
                &request(&[]),
                None,
                Utc::now()
            ),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn a_present_authorization_header_must_verify() {
        let config = EmulatorConfig::embedded_default();
        let headers = [("Authorization".to_string(), "Basic abc".to_string())];
        assert!(matches!(
            check_signature(
                &config,
                &Lockouts::default(),
                &request(&headers),
                Utc::now()
            ),
            Err(AuthError::Signature(_))
        ));
        assert_eq!(
            check_signature(&config, &Lockouts::default(), &request(&[]), Utc::now()),
            Ok(None)
        );
    }
}
