//! The HTTP pipeline every cloud call goes through: cap on requests in flight, rate limit,
//! authentication headers and signature, per-request timeout, retries of idempotent calls,
//! error classification.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::Semaphore;

use super::endpoint::Endpoints;
use super::error::{ApiError, ErrorClass};
use super::ratelimit::RateLimiter;
use super::request::{CloudRequest, CloudResponse, Priority, RequestAuth};
use crate::auth::signer::{self, Authorization, SignInput, DATE_FORMAT, DATE_HEADER};
use crate::metrics::Metrics;

/// When and how often to retry idempotent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff ceiling; doubles per attempt.
    pub base: Duration,
    /// Longest single wait. A `Retry-After` beyond it ends the retries and is left to the
    /// caller (the reconciler requeues the whole rule instead of holding a worker).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based), or `None` to stop.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_backoff);
        let jittered = ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        match retry_after {
            Some(after) if after > self.max_backoff => None,
            Some(after) => Some(after.max(jittered)),
            None => Some(jittered),
        }
    }
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Endpoint templates.
    pub endpoints: Endpoints,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Sustained calls per second, for the whole process.
    pub qps: f64,
    /// Calls allowed at once after idling.
    pub burst: u32,
    /// Requests in flight at once, for the whole process; `None`: [`TransportConfig::in_flight`].
    pub max_in_flight: Option<u32>,
    /// Retry policy for idempotent calls.
    pub retry: RetryPolicy,
}

impl TransportConfig {
    /// The cap on requests in flight. By default one second of calls at `qps`: by Little's
    /// law (in flight = rate x latency) the rate limiter stays the only governor while the
    /// cloud answers within a second, whatever the latency below that; when it slows down
    /// further, the cap stops the process from piling up open requests on it.
    pub fn in_flight(&self) -> u32 {
        self.max_in_flight.unwrap_or(self.qps.ceil() as u32).max(1)
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            endpoints: Endpoints::default(),
            timeout: Duration::from_secs(15),
            qps: 10.0,
            burst: 10,
            max_in_flight: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// Sends cloud requests. One per process: the rate limit is shared by every rule.
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    in_flight: Semaphore,
    /// Taken before `in_flight` by background requests: they never hold more than this
    /// share of the slots, so task management always finds most of them free.
    background: Semaphore,
    limiter: RateLimiter,
    config: TransportConfig,
    metrics: Option<Arc<Metrics>>,
}

/// Background requests' share of the in-flight slots: a quarter, at least one.
pub fn background_slots(in_flight: u32) -> usize {
    (in_flight as usize / 4).max(1)
}

const USER_AGENT: &str = concat!("swr-sync-operator/", env!("CARGO_PKG_VERSION"));

impl Transport {
    /// Builds the HTTP client.
    pub fn new(config: TransportConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            http,
            in_flight: Semaphore::new(config.in_flight() as usize),
            background: Semaphore::new(background_slots(config.in_flight())),
            limiter: RateLimiter::new(config.qps, config.burst),
            config,
            metrics: None,
        })
    }

    /// Records every attempt, its duration and rate-limiter waits in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The settings in use.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Sends `request`, retrying idempotent ones on retryable failures, and any request the
    /// API gateway throttled: the gateway refused it before it reached the service.
    pub async fn send(
        &self,
        request: &CloudRequest,
        auth: &RequestAuth,
    ) -> Result<CloudResponse, ApiError> {
        let mut attempt = 0;
        loop {
            let result = self.send_once(request, auth).await;
            let err = match result {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            let never_reached = err.class == ErrorClass::Throttled && err.from_gateway();
            let wait = ((request.idempotent || never_reached) && err.class.is_retryable())
                .then(|| self.config.retry.backoff(attempt, err.retry_after))
                .flatten();
            let Some(wait) = wait else { return Err(err) };
            tracing::debug!(operation = request.operation, error = %err, ?wait, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        request: &CloudRequest,
        auth: &RequestAuth,
    ) -> Result<CloudResponse, ApiError> {
        let op = request.operation;
        let invalid = |msg: String| ApiError::without_response(op, ErrorClass::InvalidRequest, msg);
        let base = (self.config.endpoints)
            .base_for(request.service, &request.region)
            .map_err(|e| invalid(e.to_string()))?;
        let query = signer::canonical_query(&request.query);
        let full = if query.is_empty() {
            format!("{base}{}", request.path)
        } else {
            format!("{base}{}?{query}", request.path)
        };
        let url = reqwest::Url::parse(&full).map_err(|e| invalid(format!("bad URL: {e}")))?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let body = request.body.clone().unwrap_or_default();
        let headers = self.auth_headers(request, auth, &url, host, &body);

        // The slot first, then the token: a token taken while waiting for a slot would be
        // spent idle, and the rate would fall below the limit.
        let queued = std::time::Instant::now();
        let _background = match request.priority {
            Priority::Background => Some(
                self.background
                    .acquire()
                    .await
                    .expect("the semaphore is never closed"),
            ),
            Priority::Foreground => None,
        };
        let _slot = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.limiter.acquire().await;
        if let Some(metrics) = &self.metrics {
            metrics.rate_limited(queued.elapsed());
        }
        let started = std::time::Instant::now();
        let result = self.exchange(request, url, body, headers).await;
        if let Some(metrics) = &self.metrics {
            let status = match &result {
                Ok(response) => response.status.to_string(),
                Err(e) => e
                    .status
                    .map_or(e.class.label().to_string(), |s| s.to_string()),
            };
            metrics.cloud_request(request.service.label(), op, &status, started.elapsed());
        }
        result
    }

    /// The HTTP exchange itself, once authenticated and rate limited.
    async fn exchange(
        &self,
        request: &CloudRequest,
        url: reqwest::Url,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    ) -> Result<CloudResponse, ApiError> {
        let op = request.operation;
        let mut builder = self.http.request(request.method.clone(), url).body(body);
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| classify_send_error(op, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body(op, response).await?;
        tracing::debug!(operation = op, status, "cloud call");
        if (200..300).contains(&status) {
            return Ok(CloudResponse {
                operation: op,
                status,
                headers,
                body,
            });
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = text("retry-after").and_then(parse_retry_after);
        Err(ApiError::from_response(
            op,
            status,
            text("x-request-id").map(String::from),
            retry_after,
            &body,
        ))
    }

    /// The headers a request carries, with the signature when signing.
    fn auth_headers(
        &self,
        request: &CloudRequest,
        auth: &RequestAuth,
        url: &reqwest::Url,
        host: String,
        body: &[u8],
    ) -> Vec<(String, String)> {
        let mut headers = vec![
            ("Content-Type".to_string(), request.content_type.to_string()),
            ("Host".to_string(), host),
            ("User-Agent".to_string(), USER_AGENT.to_string()),
        ];
        headers.extend(request.headers.iter().cloned());
        match auth {
            RequestAuth::Anonymous => {}
            RequestAuth::Token(token) => {
                headers.push(("X-Auth-Token".into(), token.expose().to_string()));
            }
            RequestAuth::Sign(key) => {
                let sdk_date = Utc::now().format(DATE_FORMAT).to_string();
                headers.push((DATE_HEADER.into(), sdk_date.clone()));
                if let Some(project) = key.project_for(&request.region) {
                    headers.push(("X-Project-Id".into(), project.to_string()));
                }
                if let Some(token) = &key.security_token {
                    headers.push(("X-Security-Token".into(), token.expose().to_string()));
                }
                let signed_headers =
                    signer::signable_header_names(headers.iter().map(|(n, _)| n.as_str()));
                let input = SignInput {
                    method: request.method.as_str(),
                    path: url.path(),
                    query: &request.query,
                    headers: &headers,
                    signed_headers: &signed_headers,
                    body,
                };
                let signature = signer::signature(key.secret_key.expose(), &sdk_date, &input)
                    .expect("every signed header was just set");
                let authorization = Authorization {
                    access_key: key.access_key.clone(),
                    signed_headers,
                    signature,
                };
                headers.push(("Authorization".into(), authorization.render()));
            }
        }
        headers
    }
}

/// The wait a `Retry-After` header value asks for: delay-seconds, or an HTTP date (the wait
/// until then; none if it has passed). Anything else is ignored, and the retry policy's own
/// backoff applies.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    retry_after_at(value, Utc::now())
}

fn retry_after_at(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.to_utc() - now).to_std().unwrap_or(Duration::ZERO))
}

/// Largest response body read; SWR's biggest pages are far smaller, so anything beyond is
/// a broken or hostile peer, refused before it can exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The body of `response`, at most [`MAX_RESPONSE_BYTES`].
async fn read_body(
    operation: &'static str,
    mut response: reqwest::Response,
) -> Result<Bytes, ApiError> {
    let too_big = || {
        ApiError::without_response(
            operation,
            ErrorClass::UnexpectedResponse,
            format!("response body larger than {MAX_RESPONSE_BYTES} bytes"),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify_send_error(operation, &e))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

fn classify_send_error(operation: &'static str, err: &reqwest::Error) -> ApiError {
    let class = if err.is_timeout() {
        ErrorClass::Timeout
    } else {
        ErrorClass::Transport
    };
    // reqwest's message names the URL, which holds no credentials.
    ApiError::without_response(operation, class, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_stops() {
        let policy = RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        for _ in 0..50 {
            let first = policy.backoff(0, None).unwrap();
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(2, None).unwrap();
            assert!(third >= Duration::from_millis(150) && third <= Duration::from_millis(300));
        }
        assert_eq!(policy.backoff(4, None), None);
    }

    #[test]
    fn backoff_honours_retry_after_within_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.backoff(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(policy.backoff(0, Some(Duration::from_secs(60))), None);
    }

    #[test]
    fn retry_after_reads_delay_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        let now: DateTime<Utc> = "2015-10-21T07:27:50Z".parse().unwrap();
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after_at(date, now), Some(Duration::from_secs(10)));
        let passed = "Wed, 21 Oct 2015 07:27:00 GMT";
        assert_eq!(retry_after_at(passed, now), Some(Duration::ZERO));
        for ignored in ["", "-1", "1.5", "soon", "99999999999999999999"] {
            assert_eq!(parse_retry_after(ignored), None, "{ignored:?}");
        }
    }
}
