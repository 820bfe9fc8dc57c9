//! SDK-HMAC-SHA256 request signing as Huawei Cloud's official SDKs do it, and its verification.
//!
//! The scheme: a canonical request (method, canonical URI, canonical query, the signed
//! headers and the hex SHA-256 of the body) is hashed into a string to sign, which is
//! HMAC-SHA256'd with the secret key. There is no key derivation (unlike AWS SigV4), so the
//! secret key is the HMAC key as it is.

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// The value that opens the `Authorization` header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The header that carries the signing time; always signed.
pub const DATE_HEADER: &str = "X-Sdk-Date";
/// `X-Sdk-Date` format (basic ISO 8601, UTC).
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Everything but letters, digits and `-_.~` is escaped (RFC 3986 unreserved), the same set
/// the SDKs use for path segments, query keys and query values.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why a request's `Authorization` header could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignerError {
    /// The header does not start with `SDK-HMAC-SHA256 `.
    #[error("authorization header does not use {ALGORITHM}")]
    ParseAlgorithm,
    /// A part (`Access`, `SignedHeaders`, `Signature`) is missing or empty.
    #[error("authorization header lacks {0}")]
    ParsePart(&'static str),
}

/// A request as the signer sees it. Header names may be in any case; only those listed in
/// `signed_headers` take part.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// HTTP method, any case.
    pub method: &'a str,
    /// The path as sent on the wire (percent-encoded).
    pub path: &'a str,
    /// Decoded query parameters, in any order.
    pub query: &'a [(String, String)],
    /// Request headers (name, value).
    pub headers: &'a [(String, String)],
    /// Lower-case names of the headers to sign, sorted.
    pub signed_headers: &'a [String],
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// Escapes a path segment, query key or query value as the SDKs do.
pub fn escape(raw: &str) -> String {
    utf8_percent_encode(raw, ESCAPED).to_string()
}

/// The canonical URI: the whole path decoded, then split at `/` and each segment escaped,
/// always ending with `/`. Decoding comes first, as in the Python SDK
/// (`huaweicloudsdkcore/signer/signer.py`, `_process_canonical_uri`: `unquote(path).split('/')`),
/// so an encoded `/` inside a segment (`a%2Fb`) is signed as two segments (`a/b`); the Go
/// SDK sends path parameters unescaped and splits them the same way.
pub fn canonical_uri(path: &str) -> String {
    let mut uri = percent_decode_str(path)
        .decode_utf8_lossy()
        .split('/')
        .map(escape)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query: `key=value` pairs escaped and sorted (repeated keys included).
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// Decodes a raw query string (`a=1&b=%2F`) into pairs; `+` is kept literally, as the
/// SDKs escape spaces as `%20`.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

/// The names a client signs: every header it sets, lower-cased and sorted, except those
/// the SDKs never sign (a `_` in the name, `Authorization`, `Content-Length`).
pub fn signable_header_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = names
        .into_iter()
        .map(str::to_ascii_lowercase)
        .filter(|n| !n.contains('_') && n != "authorization" && n != "content-length")
        .collect();
    out.sort();
    out.dedup();
    out
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The canonical request text. `None` when a header named in `signed_headers` is absent.
pub fn canonical_request(input: &SignInput<'_>) -> Option<String> {
    let mut headers = String::new();
    for name in input.signed_headers {
        headers.push_str(name);
        headers.push(':');
        headers.push_str(header_value(input.headers, name)?);
        headers.push('\n');
    }
    Some(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method.to_ascii_uppercase(),
        canonical_uri(input.path),
        canonical_query(input.query),
        headers,
        input.signed_headers.join(";"),
        hex::encode(Sha256::digest(input.body)),
    ))
}

/// The hex signature of a request, or `None` when a signed header is absent.
pub fn signature(secret_key: &str, sdk_date: &str, input: &SignInput<'_>) -> Option<String> {
    let canonical = canonical_request(input)?;
    let to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// A parsed `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id.
    pub access_key: String,
    /// Lower-case signed header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

impl Authorization {
    /// Parses the header value.
    pub fn parse(value: &str) -> Result<Self, SignerError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(SignerError::ParseAlgorithm)?;
        let part = |key: &'static str| {
            rest.split(',')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or(SignerError::ParsePart(key))
        };
        Ok(Self {
            access_key: part("Access")?,
            signed_headers: part("SignedHeaders")?
                .split(';')
                .map(str::to_ascii_lowercase)
                .collect(),
            signature: part("Signature")?,
        })
    }

    /// Renders the header value.
    pub fn render(&self) -> String {
        format!(
            "{ALGORITHM} Access={}, SignedHeaders={}, Signature={}",
            self.access_key,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

/// Compares two signatures in time independent of where they first differ.
pub fn signatures_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uri_reescapes_segments_and_ends_with_slash() {
        assert_eq!(canonical_uri("/v2/manage/regions"), "/v2/manage/regions/");
        assert_eq!(canonical_uri("/a/apps%24api/"), "/a/apps%24api/");
        assert_eq!(canonical_uri("/a/apps$api"), "/a/apps%24api/");
        // What the Python SDK signs for repository `a/b$c`, sent as `a%2Fb%24c`.
        assert_eq!(
            canonical_uri("/repos/a%2Fb%24c/tags"),
            "/repos/a/b%24c/tags/"
        );
    }

    #[test]
    fn parse_query_keeps_plus_and_decodes_percent() {
        assert_eq!(
            parse_query("a=1+2&b=%2Ftmp&c"),
            vec![
                ("a".into(), "1+2".into()),
                ("b".into(), "/tmp".into()),
                ("c".into(), String::new())
            ]
        );
    }

    #[test]
    fn signable_names_skip_underscores_and_transport_headers() {
        let names = signable_header_names([
            "X-Sdk-Date",
            "Content-Type",
            "x_custom",
            "Authorization",
            "Content-Length",
            "Host",
        ]);
        assert_eq!(names, ["content-type", "host", "x-sdk-date"]);
    }

    #[test]
    fn authorization_round_trips_and_rejects_garbage() {
        let raw = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=ab12";
        let parsed = Authorization::parse(raw).unwrap();
        assert_eq!(parsed.signed_headers, ["host", "x-sdk-date"]);
        assert_eq!(parsed.render(), raw);
        assert_eq!(
            Authorization::parse("AWS4 Access=AK"),
            Err(SignerError::ParseAlgorithm)
        );
        assert_eq!(
            Authorization::parse("SDK-HMAC-SHA256 Access=AK, Signature=ab"),
            Err(SignerError::ParsePart("SignedHeaders"))
        );
    }

    #[test]
    fn signature_needs_every_signed_header() {
        let signed = vec!["x-missing".to_string()];
        let input = SignInput {
            method: "GET",
            path: "/",
            query: &[],
            headers: &[],
            signed_headers: &signed,
            body: b"",
        };
        assert!(signature("sk", "20200101T000000Z", &input).is_none());
    }

    #[test]
    fn signatures_match_is_exact() {
        assert!(signatures_match("abc", "abc"));
        assert!(!signatures_match("abc", "abd"));
        assert!(!signatures_match("abc", "abcd"));
    }
}
