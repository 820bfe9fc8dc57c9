//! Server-side check of SDK-HMAC-SHA256 signatures (the emulator's side of the signer).

use chrono::{DateTime, NaiveDateTime, Utc};

use super::signer::{self, Authorization, SignInput, SignerError, DATE_FORMAT, DATE_HEADER};

/// A request as received: the path and query exactly as they arrived on the wire.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path as received (still percent-encoded).
    pub path: &'a str,
    /// Raw query string without `?`.
    pub raw_query: &'a str,
    /// All request headers.
    pub headers: &'a [(String, String)],
    /// Body bytes.
    pub body: &'a [u8],
}

/// Why a signed request was refused. Messages name no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    MissingAuthorization,
    /// The header could not be parsed.
    #[error(transparent)]
    Malformed(#[from] SignerError),
    /// The access key is not known.
    #[error("unknown access key")]
    UnknownAccessKey,
    /// `X-Sdk-Date` is absent, unsigned or not in `YYYYMMDDTHHMMSSZ` form.
    #[error("X-Sdk-Date must be present, signed and in {DATE_FORMAT} form")]
    BadDate,
    /// `X-Sdk-Date` is further from the server's clock than allowed.
    #[error("X-Sdk-Date is outside the allowed clock skew")]
    ClockSkew,
    /// A header named in SignedHeaders is not in the request.
    #[error("signed header {0} is missing")]
    MissingSignedHeader(String),
    /// The signature does not match the request.
    #[error("signature does not match the request")]
    SignatureMismatch,
}

/// Verifies `request`; returns the caller's access key. `secret_for` maps an access key to
/// its secret key; `max_skew` bounds the distance between `X-Sdk-Date` and `now`.
pub fn verify<'s>(
    request: &ReceivedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<&'s str>,
    now: DateTime<Utc>,
    max_skew: chrono::Duration,
) -> Result<String, VerifyError> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let auth =
        Authorization::parse(header("authorization").ok_or(VerifyError::MissingAuthorization)?)?;
    let secret = secret_for(&auth.access_key).ok_or(VerifyError::UnknownAccessKey)?;
    let date_name = DATE_HEADER.to_ascii_lowercase();
    if !auth.signed_headers.contains(&date_name) {
        return Err(VerifyError::BadDate);
    }
    let sdk_date = header(DATE_HEADER).ok_or(VerifyError::BadDate)?;
    let signed_at = NaiveDateTime::parse_from_str(sdk_date, DATE_FORMAT)
        .map_err(|_| VerifyError::BadDate)?
        .and_utc();
    if (now - signed_at).abs() > max_skew {
        return Err(VerifyError::ClockSkew);
    }
    if let Some(missing) = auth.signed_headers.iter().find(|n| header(n).is_none()) {
        return Err(VerifyError::MissingSignedHeader(missing.clone()));
    }
    let query = signer::parse_query(request.raw_query);
    let input = SignInput {
        method: request.method,
        path: request.path,
        query: &query,
        headers: request.headers,
        signed_headers: &auth.signed_headers,
        body: request.body,
    };
    let expected =
        signer::signature(secret, sdk_date, &input).ok_or(VerifyError::SignatureMismatch)?;
    if signer::signatures_match(&expected, &auth.signature) {
        Ok(auth.access_key)
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}
