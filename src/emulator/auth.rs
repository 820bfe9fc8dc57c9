//! Who is calling: SDK-HMAC-SHA256 signatures (checked by `auth::verify`) or an IAM token this
//! emulator issued. Error messages never carry keys, signatures or tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::config::EmulatorConfig;
use super::state::Actor;
use crate::auth::signer::signatures_match;
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
}

impl Caller {
    /// The caller's project in `region`: the token's, or the key's domain's from the config.
    pub fn project_in(&self, config: &EmulatorConfig, region: &str) -> Option<String> {
        match &self.token_project {
            Some(project) => Some(project.clone()),
            None => config.project_id(&self.actor.domain_name, region),
        }
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

    fn find(&self, value: &str) -> Option<IssuedToken> {
        self.0.lock().expect("tokens lock").get(value).cloned()
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
    request: &ReceivedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Caller>, AuthError> {
    if header(request, "authorization").is_none() {
        return Ok(None);
    }
    let key_of = |ak: &str| config.access_keys.iter().find(|k| k.access_key == ak);
    let skew = chrono::Duration::from_std(config.max_clock_skew).unwrap_or(chrono::Duration::MAX);
    let access_key = verify(
        request,
        |ak| key_of(ak).map(|k| k.secret_key.expose()),
        now,
        skew,
    )?;
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
    }))
}

/// Authenticates a request by signature or token. With `region`, a token must be scoped to
/// that region's project (SWR, HSS); without, any valid token will do (IAM).
pub fn authenticate(
    config: &EmulatorConfig,
    tokens: &Tokens,
    request: &ReceivedRequest<'_>,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Caller, AuthError> {
    if let Some(caller) = check_signature(config, request, now)? {
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
            authenticate(&config, &tokens, &request(&headers), region, Utc::now())
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
            authenticate(&config, &tokens, &request(&[]), None, Utc::now()),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn a_present_authorization_header_must_verify() {
        let config = EmulatorConfig::embedded_default();
        let headers = [("Authorization".to_string(), "Basic abc".to_string())];
        assert!(matches!(
            check_signature(&config, &request(&headers), Utc::now()),
            Err(AuthError::Signature(_))
        ));
        assert_eq!(
            check_signature(&config, &request(&[]), Utc::now()),
            Ok(None)
        );
    }
}
