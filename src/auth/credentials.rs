//! Cloud credentials as they come from a Kubernetes Secret: AK/SK (optionally temporary, with
//! a security token) or an IAM user's password. Secret values never print.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Secret;

/// A secret string: `Debug` and `Display` print a placeholder, never the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for signing or sending; never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secret keys the operator reads.
pub mod keys {
    /// AK id.
    pub const ACCESS_KEY: &str = "accessKey";
    /// SK.
    pub const SECRET_KEY: &str = "secretKey";
    /// Security token of temporary AK/SK.
    pub const SECURITY_TOKEN: &str = "securityToken";
    /// Project id (optional; looked up from IAM by region name when absent).
    pub const PROJECT_ID: &str = "projectId";
    /// Prefix of per-region project ids: `projectId.cn-east-3`.
    pub const REGION_PROJECT_ID_PREFIX: &str = "projectId.";
    /// IAM user name.
    pub const USERNAME: &str = "username";
    /// IAM user password.
    pub const PASSWORD: &str = "password";
    /// IAM account (domain) name.
    pub const DOMAIN_NAME: &str = "domainName";
}

/// An access key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// AK id; identifies the key and appears in every Authorization header, so not secret.
    pub access_key: String,
    /// SK.
    pub secret_key: SecretString,
    /// Present for temporary credentials; sent as `X-Security-Token`.
    pub security_token: Option<SecretString>,
    /// Sent as `X-Project-Id` when given (for every region without its own below).
    pub project_id: Option<String>,
    /// Project ids of single regions (`projectId.<region>` keys of the Secret).
    pub region_projects: BTreeMap<String, String>,
}

/// An IAM user's password login; tokens are fetched from IAM per region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordLogin {
    /// IAM user name.
    pub username: String,
    /// Password.
    pub password: SecretString,
    /// Account (domain) name.
    pub domain: String,
}

/// How the operator authenticates to the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// AK/SK request signing.
    AccessKey(AccessKey),
    /// IAM password → token.
    Password(PasswordLogin),
}

/// Why a Secret does not hold usable credentials. Names keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// Neither complete AK/SK nor a complete password login.
    #[error("the Secret needs {ak} and {sk}, or {user}, {pw} and {domain}; missing: {missing}",
        ak = keys::ACCESS_KEY, sk = keys::SECRET_KEY, user = keys::USERNAME,
        pw = keys::PASSWORD, domain = keys::DOMAIN_NAME)]
    ParseMissing {
        /// Comma-separated key names.
        missing: String,
    },
    /// Both kinds are present; the operator will not guess which one is meant.
    #[error("the Secret holds both AK/SK and a password login; keep one")]
    ParseAmbiguous,
    /// A value is not UTF-8 or is blank.
    #[error("Secret key {0} is empty or not UTF-8 text")]
    ParseValue(&'static str),
}

impl CredentialsError {
    /// Metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::ParseMissing { .. } => "missing",
            Self::ParseAmbiguous => "ambiguous",
            Self::ParseValue(_) => "invalid_value",
        }
    }
}

impl AccessKey {
    /// The project id to use in `region`, when the Secret gives one.
    pub fn project_for(&self, region: &str) -> Option<&str> {
        self.region_projects
            .get(region)
            .or(self.project_id.as_ref())
            .map(String::as_str)
    }
}

/// The `projectId.<region>` entries of Secret data.
fn region_projects(
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, String>, CredentialsError> {
    data.iter()
        .filter_map(|(key, value)| {
            let region = key.strip_prefix(keys::REGION_PROJECT_ID_PREFIX)?;
            let id = std::str::from_utf8(value).map(str::trim).ok();
            Some(match id {
                Some(id) if !id.is_empty() => Ok((region.to_string(), id.to_string())),
                _ => Err(CredentialsError::ParseValue(keys::REGION_PROJECT_ID_PREFIX)),
            })
        })
        .collect()
}

impl Credentials {
    /// Credentials from a Secret object: its `data`, and `stringData` on top as the API
    /// server would merge it (a manifest read from a file may use either).
    pub fn from_secret(secret: &Secret) -> Result<Self, CredentialsError> {
        let mut data: BTreeMap<String, Vec<u8>> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        for (k, v) in secret.string_data.iter().flatten() {
            data.insert(k.clone(), v.clone().into_bytes());
        }
        Self::from_secret_data(&data)
    }

    /// Reads credentials from a Secret's `data`.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, CredentialsError> {
        let get = |key: &'static str| -> Result<Option<String>, CredentialsError> {
            match data.get(key) {
                None => Ok(None),
                Some(bytes) => match std::str::from_utf8(bytes).map(str::trim) {
                    Ok(v) if !v.is_empty() => Ok(Some(v.to_string())),
                    _ => Err(CredentialsError::ParseValue(key)),
                },
            }
        };
        let ak = get(keys::ACCESS_KEY)?;
        let sk = get(keys::SECRET_KEY)?;
        let user = get(keys::USERNAME)?;
        let password = get(keys::PASSWORD)?;
        let domain = get(keys::DOMAIN_NAME)?;
        let has_key_pair = ak.is_some() || sk.is_some();
        let has_login = user.is_some() || password.is_some() || domain.is_some();
        if has_key_pair && has_login {
            return Err(CredentialsError::ParseAmbiguous);
        }
        let missing = |pairs: &[(&str, bool)]| CredentialsError::ParseMissing {
            missing: pairs
                .iter()
                .filter(|(_, present)| !present)
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", "),
        };
        if has_login {
            return match (user, password, domain) {
                (Some(username), Some(password), Some(domain)) => {
                    Ok(Self::Password(PasswordLogin {
                        username,
                        password: SecretString::new(password),
                        domain,
                    }))
                }
                (u, p, d) => Err(missing(&[
                    (keys::USERNAME, u.is_some()),
                    (keys::PASSWORD, p.is_some()),
                    (keys::DOMAIN_NAME, d.is_some()),
                ])),
            };
        }
        match (ak, sk) {
            (Some(access_key), Some(secret_key)) => Ok(Self::AccessKey(AccessKey {
                access_key,
                secret_key: SecretString::new(secret_key),
                security_token: get(keys::SECURITY_TOKEN)?.map(SecretString::new),
                project_id: get(keys::PROJECT_ID)?,
                region_projects: region_projects(data)?,
            })),
            (a, s) => Err(missing(&[
                (keys::ACCESS_KEY, a.is_some()),
                (keys::SECRET_KEY, s.is_some()),
            ])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn project_ids_per_region_win_over_the_general_one() {
        let parsed = Credentials::from_secret_data(&data(&[
            ("accessKey", "AK"),
            ("secretKey", "SK"),
            ("projectId", "general"),
            ("projectId.cn-east-3", "east"),
        ]))
        .unwrap();
        let Credentials::AccessKey(key) = parsed else {
            panic!("not an access key")
        };
        assert_eq!(key.project_for("cn-east-3"), Some("east"));
        assert_eq!(key.project_for("cn-north-4"), Some("general"));
        let empty = data(&[
            ("accessKey", "AK"),
            ("secretKey", "SK"),
            ("projectId.x", " "),
        ]);
        assert!(Credentials::from_secret_data(&empty).is_err());
    }

    #[test]
    fn reads_access_keys_with_optional_parts() {
        let c = Credentials::from_secret_data(&data(&[
            ("accessKey", "AK1"),
            ("secretKey", "SK-very-secret"),
            ("securityToken", "TOKEN-very-secret"),
            ("projectId", "p1"),
        ]))
        .unwrap();
        let Credentials::AccessKey(k) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(k.access_key, "AK1");
        assert_eq!(k.secret_key.expose(), "SK-very-secret");
        assert_eq!(k.project_id.as_deref(), Some("p1"));
        let printed = format!("{c:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
    }

    #[test]
    fn reads_password_login_without_printing_it() {
        let c = Credentials::from_secret_data(&data(&[
            ("username", "op"),
            ("password", "pw-very-secret"),
            ("domainName", "acme"),
        ]))
        .unwrap();
        assert!(matches!(&c, Credentials::Password(p) if p.password.expose() == "pw-very-secret"));
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[test]
    fn incomplete_ambiguous_and_blank_secrets_are_refused() {
        let table: [(&[(&str, &str)], CredentialsError); 5] = [
            (
                &[],
                CredentialsError::ParseMissing {
                    missing: "accessKey, secretKey".into(),
                },
            ),
            (
                &[("accessKey", "AK")],
                CredentialsError::ParseMissing {
                    missing: "secretKey".into(),
                },
            ),
            (
                &[("username", "u"), ("password", "p")],
                CredentialsError::ParseMissing {
                    missing: "domainName".into(),
                },
            ),
            (
                &[("accessKey", "AK"), ("secretKey", "SK"), ("username", "u")],
                CredentialsError::ParseAmbiguous,
            ),
            (
                &[("accessKey", " "), ("secretKey", "SK")],
                CredentialsError::ParseValue("accessKey"),
            ),
        ];
        for (pairs, expected) in table {
            let err = Credentials::from_secret_data(&data(pairs)).unwrap_err();
            assert_eq!(err, expected);
            assert!(!err.to_string().contains("SK\""));
        }
    }
}
