//! The `@connections` client: pushes frames to WebSocket connections with `postToConnection`
//! (aws-sdk-apigatewaymanagement), one connection at a time ([`ConnectionsClient::send`]) or to a
//! whole audience ([`ConnectionsClient::fan_out`]).
//!
//! - `410 Gone` means the socket is closed: it is reported as [`Delivery::Gone`], never retried;
//!   during a fan-out the stale connection and its subscriptions are deleted at once.
//! - `429`, `5xx`, timeouts and transport errors are retried with jittered exponential backoff,
//!   bounded by [`RetryPolicy`] (the SDK's own retries are off so the two never multiply).
//! - Other refusals (`403`, `413`, `400`) are permanent: reported, never retried.
//! - A fan-out posts to at most [`DEFAULT_CONCURRENCY`] connections at once and never lets one
//!   dead connection stop the others; its [`FanOutReport`] tells the caller whether anything is
//!   worth retrying.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use aws_sdk_apigatewaymanagement::config::timeout::TimeoutConfig;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures::StreamExt as _;
use rand::RngExt as _;

use crate::config::ConnectionsConfig;
use crate::frames::{MAX_MESSAGE_BYTES, ServerFrame};
use crate::store::{Store, SubscriptionTarget};

/// How many posts a fan-out keeps in flight.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// How often, and how patiently, a post is retried after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles on each further retry.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff about 50 ms, 100 ms, 200 ms: a fan-out finishes well inside a
    /// Lambda timeout even when the endpoint is down.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1-based): "equal jitter", half of the capped
    /// exponential delay plus a random share of the other half, so concurrent posters spread out.
    pub fn delay(&self, retry: u32) -> Duration {
        let exponential = self.base_delay.saturating_mul(1_u32 << retry.saturating_sub(1).min(16));
        let capped = exponential.min(self.max_delay);
        let half = capped / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::rng().random_range(0..=jitter_nanos))
    }
}

/// What happened to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// API Gateway accepted the frame for the socket.
    Delivered,
    /// The connection no longer exists (410): the caller should forget it.
    Gone,
}

/// Why a frame was not delivered (a closed socket is not an error: see [`Delivery::Gone`]).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The frame did not serialize.
    #[error("frame could not be serialized")]
    Serialize(#[from] serde_json::Error),
    /// The frame is over API Gateway's 128 KB message limit; nothing was sent.
    #[error("frame is {size} bytes, over the {MAX_MESSAGE_BYTES}-byte message limit")]
    TooLarge {
        /// The frame's size in bytes.
        size: usize,
    },
    /// `@connections` refused the post for good (403, 413, 400, ...): retrying will not help.
    #[error("@connections refused the post: {0}")]
    Rejected(String),
    /// Every attempt failed transiently (429, 5xx, timeout, transport): worth retrying later.
    #[error("@connections unavailable after {attempts} attempts: {reason}")]
    Unavailable {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
}

impl SendError {
    /// True when the same post may succeed later (the caller may retry the whole event).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// The outcome of a fan-out, by connection id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FanOutReport {
    /// Accepted by API Gateway.
    pub delivered: Vec<String>,
    /// Closed sockets (410); their connection and subscriptions were deleted.
    pub gone: Vec<String>,
    /// Transient failures that outlasted the retries: retrying the event may reach them.
    pub failed: Vec<String>,
    /// Permanent refusals (and frames too large to send): retrying will not help.
    pub rejected: Vec<String>,
}

impl FanOutReport {
    /// True when some connection may still be reached by retrying the event.
    pub fn should_retry(&self) -> bool {
        !self.failed.is_empty()
    }
}

/// A frame serialized once, ready to post to any number of connections.
struct Payload(Vec<u8>);

impl Payload {
    fn new(frame: &ServerFrame) -> Result<Self, SendError> {
        let bytes = frame.to_bytes()?;
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(SendError::TooLarge { size: bytes.len() });
        }
        Ok(Self(bytes))
    }
}

/// How one failed attempt is treated.
enum Failure {
    Gone,
    Transient(String),
    Permanent(String),
}

fn classify<E, R>(error: &SdkError<E, R>, status: Option<u16>) -> Failure
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let reason = DisplayErrorContext(error).to_string();
    match error {
        SdkError::ConstructionFailure(_) => Failure::Permanent(reason),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Failure::Transient(reason),
        // Service and response errors: the status decides (the local gateway and API Gateway
        // may word their error bodies differently, the status is the contract).
        _ => match status {
            Some(410) => Failure::Gone,
            Some(429 | 500..=599) | None => Failure::Transient(reason),
            Some(_) => Failure::Permanent(reason),
        },
    }
}

/// The `@connections` management API of one WebSocket API stage.
#[derive(Debug, Clone)]
pub struct ConnectionsClient {
    client: Client,
    retry: RetryPolicy,
    concurrency: usize,
}

impl ConnectionsClient {
    /// A client for the configured endpoint, with credentials and region from `aws`.
    /// The endpoint may carry the stage path (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`,
    /// as API Gateway shows it) or not (a custom domain mapping, the local gateway).
    pub fn new(aws: &aws_config::SdkConfig, config: &ConnectionsConfig) -> Self {
        Self::from_builder(
            aws_sdk_apigatewaymanagement::config::Builder::from(aws),
            &config.endpoint,
        )
    }

    fn from_builder(builder: aws_sdk_apigatewaymanagement::config::Builder, endpoint: &str) -> Self {
        let config = builder
            .endpoint_url(endpoint.trim_end_matches('/'))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(3))
                    .build(),
            )
            .build();
        Self {
            client: Client::from_conf(config),
            retry: RetryPolicy::default(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// The same client with another retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: retry.max_attempts.max(1),
            ..retry
        };
        self
    }

    /// The same client with another fan-out concurrency bound (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Posts one frame to one connection, retrying transient failures.
    pub async fn send(&self, connection_id: &str, frame: &ServerFrame) -> Result<Delivery, SendError> {
        let payload = Payload::new(frame)?;
        self.post(connection_id, &payload).await
    }

    /// Posts frames to one connection in order, stopping early if it is gone.
    pub async fn send_all(&self, connection_id: &str, frames: &[ServerFrame]) -> Result<Delivery, SendError> {
        for frame in frames {
            if self.send(connection_id, frame).await? == Delivery::Gone {
                return Ok(Delivery::Gone);
            }
        }
        Ok(Delivery::Delivered)
    }

    /// Posts `frame` to every target concurrently (bounded). A closed connection (410) is
    /// deleted with its subscriptions; one failing connection never stops the others. Duplicate
    /// targets get the frame once.
    pub async fn fan_out(&self, store: &Store, targets: &[SubscriptionTarget], frame: &ServerFrame) -> FanOutReport {
        let mut seen = HashSet::new();
        // Owned ids: a stream closure taking `&str` trips rustc's higher-ranked lifetime
        // inference when the future must be `Send` (rust-lang/rust#100013).
        let connection_ids: Vec<String> = targets
            .iter()
            .map(|target| target.connection_id.as_str())
            .filter(|id| seen.insert(*id))
            .map(str::to_owned)
            .collect();
        let mut report = FanOutReport::default();
        let payload = match Payload::new(frame) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(frame = frame.kind(), error = %error, "frame cannot be sent to anyone");
                report.rejected = connection_ids;
                return report;
            }
        };
        let payload = &payload;
        let outcomes: Vec<(String, Result<Delivery, SendError>)> = futures::stream::iter(connection_ids)
            .map(|connection_id: String| async move {
                let outcome = self.post(&connection_id, payload).await;
                if matches!(outcome, Ok(Delivery::Gone)) {
                    forget(store, &connection_id, targets).await;
                }
                (connection_id, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (connection_id, outcome) in outcomes {
            let bucket = match &outcome {
                Ok(Delivery::Delivered) => &mut report.delivered,
                Ok(Delivery::Gone) => &mut report.gone,
                Err(error) if error.is_transient() => &mut report.failed,
                Err(_) => &mut report.rejected,
            };
            if let Err(error) = outcome {
                tracing::warn!(connection_id, frame = frame.kind(), error = %error, "post to connection failed");
            }
            bucket.push(connection_id);
        }
        report
    }

    async fn post(&self, connection_id: &str, payload: &Payload) -> Result<Delivery, SendError> {
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .post_to_connection()
                .connection_id(connection_id)
                .data(Blob::new(payload.0.clone()))
                .send()
                .await;
            let Err(error) = result else {
                return Ok(Delivery::Delivered);
            };
            let status = error.raw_response().map(|response| response.status().as_u16());
            match classify(&error, status) {
                Failure::Gone => return Ok(Delivery::Gone),
                Failure::Permanent(reason) => return Err(SendError::Rejected(reason)),
                Failure::Transient(reason) if attempt >= self.retry.max_attempts => {
                    return Err(SendError::Unavailable {
                        attempts: attempt,
                        reason,
                    });
                }
                Failure::Transient(reason) => {
                    tracing::debug!(connection_id, attempt, reason = %reason, "retrying post to connection");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// Deletes a closed connection and its subscriptions; a failure is logged (TTL cleans up later).
///
/// The subscriptions it was reached through are deleted by key first: they may outlive the
/// connection item (a `$disconnect` racing a join), and `delete_connection` finds the others
/// only through the user's memberships.
async fn forget(store: &Store, connection_id: &str, targets: &[SubscriptionTarget]) {
    for target in targets.iter().filter(|target| target.connection_id == connection_id) {
        if let Err(error) = store.delete_subscription(&target.server_id, connection_id).await {
            tracing::warn!(connection_id, error = %error, "deleting a closed connection's subscription failed");
        }
    }
    match store.delete_connection(connection_id).await {
        Ok(()) => tracing::info!(connection_id, "deleted a closed connection"),
        Err(error) => tracing::warn!(connection_id, error = %error, "deleting a closed connection failed"),
    }
}

/// Test support (feature `testing`): a tiny `@connections` endpoint on 127.0.0.1 that records
/// posts and answers chosen statuses per connection, and a client pointed at it.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::{ConnectionsClient, RetryPolicy};

    /// One `POST [/<stage>]/@connections/<id>` the endpoint received.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Post {
        /// The stage path segment, if the client sent one.
        pub stage: Option<String>,
        /// The (percent-decoded) connection id.
        pub connection_id: String,
        /// The body (the frame's JSON).
        pub body: Vec<u8>,
        /// The status the endpoint answered.
        pub status: u16,
    }

    #[derive(Default)]
    struct Recorded {
        posts: Vec<Post>,
        statuses: HashMap<String, u16>,
        documents: HashMap<String, String>,
        delay: Duration,
        in_flight: usize,
        max_in_flight: usize,
    }

    /// A local HTTP endpoint that plays API Gateway's `@connections` API (and can serve fixed
    /// documents on GET, e.g. a JWKS). Unknown connection ids are answered 200.
    #[derive(Clone)]
    pub struct FakeEndpoint {
        url: String,
        recorded: Arc<Mutex<Recorded>>,
    }

    impl std::fmt::Debug for FakeEndpoint {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FakeEndpoint")
                .field("url", &self.url)
                .finish_non_exhaustive()
        }
    }

    impl FakeEndpoint {
        /// Starts the endpoint on an ephemeral port.
        pub async fn start() -> Self {
            let listener = match TcpListener::bind("127.0.0.1:0").await {
                Ok(listener) => listener,
                Err(error) => panic!("binding the fake @connections endpoint failed: {error}"),
            };
            let url = match listener.local_addr() {
                Ok(address) => format!("http://{address}"),
                Err(error) => panic!("fake endpoint has no address: {error}"),
            };
            let recorded = Arc::new(Mutex::new(Recorded::default()));
            let shared = recorded.clone();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(serve(socket, shared.clone()));
                }
            });
            Self { url, recorded }
        }

        /// Base URL, without a stage path (`http://127.0.0.1:<port>`).
        pub fn url(&self) -> &str {
            &self.url
        }

        /// Answer every post to `connection_id` with `status` (410 for a closed socket, 500 ...).
        pub fn answer(&self, connection_id: &str, status: u16) {
            self.lock().statuses.insert(connection_id.to_owned(), status);
        }

        /// Hold every `@connections` answer for `delay` (to observe concurrency).
        pub fn delay_answers(&self, delay: Duration) {
            self.lock().delay = delay;
        }

        /// The most `@connections` requests that were being answered at the same time.
        pub fn max_in_flight(&self) -> usize {
            self.lock().max_in_flight
        }

        /// Serve `body` as JSON on `GET <path>`.
        pub fn serve_document(&self, path: &str, body: &str) {
            self.lock().documents.insert(path.to_owned(), body.to_owned());
        }

        /// Every post received, in arrival order (refused ones too).
        pub fn posts(&self) -> Vec<Post> {
            self.lock().posts.clone()
        }

        /// The frames delivered (answered 200) to a connection, parsed, in arrival order.
        pub fn frames_to(&self, connection_id: &str) -> Vec<serde_json::Value> {
            self.posts()
                .into_iter()
                .filter(|post| post.connection_id == connection_id && post.status == 200)
                .map(|post| serde_json::from_slice(&post.body).unwrap_or(serde_json::Value::Null))
                .collect()
        }

        /// How many posts (attempts) reached the endpoint for a connection.
        pub fn attempts_to(&self, connection_id: &str) -> usize {
            self.posts()
                .iter()
                .filter(|post| post.connection_id == connection_id)
                .count()
        }

        /// A client for this endpoint (`stage` appended to the URL if given) with dummy
        /// credentials and a quick retry policy (3 attempts, 1–5 ms backoff).
        pub fn client(&self, stage: Option<&str>) -> ConnectionsClient {
            client(&stage.map_or_else(|| self.url.clone(), |stage| format!("{}/{stage}", self.url)))
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
            self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    /// A client for any endpoint URL, with dummy credentials and a quick retry policy
    /// (3 attempts, 1–5 ms backoff).
    pub fn client(endpoint: &str) -> ConnectionsClient {
        let builder = aws_sdk_apigatewaymanagement::Config::builder()
            .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
            .region(aws_sdk_apigatewaymanagement::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_apigatewaymanagement::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "cosmos-tests",
            ));
        ConnectionsClient::from_builder(builder, endpoint).with_retry_policy(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        })
    }

    /// Serves one request, then closes the connection (`connection: close`).
    async fn serve(mut socket: TcpStream, recorded: Arc<Mutex<Recorded>>) {
        let Some((method, path, body)) = read_request(&mut socket).await else {
            return;
        };
        let (status, response_body) = {
            let mut recorded = recorded.lock().unwrap_or_else(PoisonError::into_inner);
            if method == "GET" {
                match recorded.documents.get(&path) {
                    Some(document) => (200, document.clone()),
                    None => (404, r#"{"message":"Not Found"}"#.to_owned()),
                }
            } else if let Some((stage, connection_id)) = connection_path(&path) {
                let status = recorded.statuses.get(&connection_id).copied().unwrap_or(200);
                recorded.posts.push(Post {
                    stage,
                    connection_id,
                    body,
                    status,
                });
                recorded.in_flight += 1;
                recorded.max_in_flight = recorded.max_in_flight.max(recorded.in_flight);
                let message = match status {
                    200 => String::new(),
                    410 => r#"{"message":"GoneException"}"#.to_owned(),
                    _ => r#"{"message":"Internal server error"}"#.to_owned(),
                };
                (status, message)
            } else {
                (404, r#"{"message":"Not Found"}"#.to_owned())
            }
        };
        let delay = recorded.lock().unwrap_or_else(PoisonError::into_inner).delay;
        if method != "GET" {
            tokio::time::sleep(delay).await;
            let mut recorded = recorded.lock().unwrap_or_else(PoisonError::into_inner);
            recorded.in_flight = recorded.in_flight.saturating_sub(1);
        }
        let error_type = match status {
            410 => "x-amzn-errortype: GoneException\r\n",
            429 => "x-amzn-errortype: LimitExceededException\r\n",
            _ => "",
        };
        let response = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\n{error_type}content-length: {}\r\nconnection: close\r\n\r\n{response_body}",
            reason(status),
            response_body.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
        let _ = socket.shutdown().await;
    }

    fn reason(status: u16) -> &'static str {
        match status {
            200 => "OK",
            404 => "Not Found",
            410 => "Gone",
            429 => "Too Many Requests",
            _ => "Error",
        }
    }

    /// `(method, path, body)` of one HTTP/1.1 request.
    async fn read_request(socket: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
        let mut buffer = Vec::new();
        let mut chunk = [0_u8; 4096];
        let header_end = loop {
            let read = socket.read(&mut chunk).await.ok()?;
            if read == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..read]);
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.split(' ');
        let method = request_line.next()?.to_owned();
        let path = request_line.next()?.to_owned();
        let length = lines
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = buffer[header_end..].to_vec();
        while body.len() < length {
            let read = socket.read(&mut chunk).await.ok()?;
            if read == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..read]);
        }
        Some((method, path, body))
    }

    /// `[/<stage>]/@connections/<id>` → (stage, decoded id).
    fn connection_path(path: &str) -> Option<(Option<String>, String)> {
        let (prefix, id) = path.split_once("/@connections/")?;
        let stage = prefix.trim_start_matches('/');
        Some(((!stage.is_empty()).then(|| stage.to_owned()), percent_decode(id)))
    }

    fn percent_decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while index < bytes.len() {
            let escaped = (bytes[index] == b'%')
                .then(|| text.get(index + 1..index + 3))
                .flatten()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            if let Some(byte) = escaped {
                decoded.push(byte);
                index += 3;
            } else {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
        String::from_utf8_lossy(&decoded).into_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::testing::FakeEndpoint;
    use super::*;
    use crate::frames::{HeartbeatAck, TypingStart};
    use crate::model::Connection;

    fn ack() -> ServerFrame {
        ServerFrame::HeartbeatAck(HeartbeatAck {})
    }

    fn target(server_id: &str, connection_id: &str) -> SubscriptionTarget {
        SubscriptionTarget {
            server_id: server_id.to_owned(),
            connection_id: connection_id.to_owned(),
            user_id: "0c6a8b1e-5f3d-4e2a-9b7c-1d2e3f4a5b6c".to_owned(),
        }
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..50 {
            let first = policy.delay(1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let second = policy.delay(2);
            assert!(
                second >= Duration::from_millis(100) && second <= Duration::from_millis(200),
                "{second:?}"
            );
            let capped = policy.delay(30);
            assert!(
                capped >= Duration::from_millis(150) && capped <= Duration::from_millis(300),
                "{capped:?}"
            );
        }
    }

    #[tokio::test]
    async fn send_posts_the_frame_json_to_the_connection() {
        let endpoint = FakeEndpoint::start().await;
        let delivery = endpoint.client(None).send("TWegAcC4EowCHnA=", &ack()).await.unwrap();
        assert_eq!(delivery, Delivery::Delivered);
        let posts = endpoint.posts();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].connection_id, "TWegAcC4EowCHnA=");
        assert_eq!(posts[0].stage, None);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&posts[0].body).unwrap()["type"],
            "HEARTBEAT_ACK"
        );
    }

    #[tokio::test]
    async fn send_keeps_a_stage_path_in_the_endpoint() {
        let endpoint = FakeEndpoint::start().await;
        endpoint.client(Some("dev")).send("abc", &ack()).await.unwrap();
        assert_eq!(endpoint.posts()[0].stage.as_deref(), Some("dev"));
    }

    #[tokio::test]
    async fn send_reports_a_closed_connection_as_gone_without_retrying() {
        let endpoint = FakeEndpoint::start().await;
        endpoint.answer("closed", 410);
        let delivery = endpoint.client(None).send("closed", &ack()).await.unwrap();
        assert_eq!(delivery, Delivery::Gone);
        assert_eq!(endpoint.attempts_to("closed"), 1);
    }

    #[tokio::test]
    async fn send_retries_server_errors_then_gives_up_as_transient() {
        let endpoint = FakeEndpoint::start().await;
        endpoint.answer("flaky", 500);
        let error = endpoint.client(None).send("flaky", &ack()).await.unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(endpoint.attempts_to("flaky"), 3);
    }

    #[tokio::test]
    async fn send_retries_throttling() {
        let endpoint = FakeEndpoint::start().await;
        endpoint.answer("busy", 429);
        let error = endpoint.client(None).send("busy", &ack()).await.unwrap_err();
        assert!(error.is_transient());
        assert_eq!(endpoint.attempts_to("busy"), 3);
    }

    #[tokio::test]
    async fn send_does_not_retry_a_forbidden_post() {
        let endpoint = FakeEndpoint::start().await;
        endpoint.answer("other-api", 403);
        let error = endpoint.client(None).send("other-api", &ack()).await.unwrap_err();
        assert!(matches!(error, SendError::Rejected(_)), "{error:?}");
        assert_eq!(endpoint.attempts_to("other-api"), 1);
    }

    #[tokio::test]
    async fn send_treats_an_unreachable_endpoint_as_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = super::testing::client(&format!("http://{address}"))
            .send("abc", &ack())
            .await
            .unwrap_err();
        assert!(matches!(error, SendError::Unavailable { attempts: 3, .. }), "{error:?}");
    }

    #[tokio::test]
    async fn send_refuses_a_frame_over_the_message_limit_without_posting() {
        let endpoint = FakeEndpoint::start().await;
        let huge = ServerFrame::TypingStart(TypingStart {
            channel_id: "x".repeat(MAX_MESSAGE_BYTES),
            server_id: String::new(),
            user_id: String::new(),
            timestamp: String::new(),
        });
        let error = endpoint.client(None).send("abc", &huge).await.unwrap_err();
        assert!(matches!(error, SendError::TooLarge { .. }), "{error:?}");
        assert!(endpoint.posts().is_empty());
    }

    #[tokio::test]
    async fn send_all_stops_at_a_closed_connection() {
        let endpoint = FakeEndpoint::start().await;
        endpoint.answer("closed", 410);
        let delivery = endpoint.client(None).send_all("closed", &[ack(), ack()]).await.unwrap();
        assert_eq!(delivery, Delivery::Gone);
        assert_eq!(endpoint.attempts_to("closed"), 1);
    }

    // Needs the local DynamoDB (`COSMOS_TEST_AWS_ENDPOINT`), like every store test.
    #[tokio::test]
    async fn fan_out_delivers_to_the_living_deletes_the_gone_and_reports_the_failing() {
        let store = crate::testing::fresh_store().await;
        let endpoint = FakeEndpoint::start().await;
        let owner = crate::testing::user_id();
        let (server, _) = store.create_server(&owner, "fan-out".to_owned()).await.unwrap();
        for connection_id in ["alive", "closed", "broken"] {
            store
                .put_connection(&Connection {
                    connection_id: connection_id.to_owned(),
                    user_id: owner.clone(),
                    connected_at: crate::clock::now_rfc3339(),
                })
                .await
                .unwrap();
        }
        endpoint.answer("closed", 410);
        endpoint.answer("broken", 500);
        let targets = store.subscriptions_of_server(&server.id).await.unwrap();
        assert_eq!(targets.len(), 3);

        let report = endpoint.client(None).fan_out(&store, &targets, &ack()).await;

        assert_eq!(report.delivered, vec!["alive".to_owned()]);
        assert_eq!(report.gone, vec!["closed".to_owned()]);
        assert_eq!(report.failed, vec!["broken".to_owned()]);
        assert!(report.should_retry());
        assert_eq!(endpoint.frames_to("alive").len(), 1);
        assert!(store.get_connection("closed").await.unwrap().is_none());
        let remaining: Vec<String> = store
            .subscriptions_of_server(&server.id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.connection_id)
            .collect();
        assert!(!remaining.contains(&"closed".to_owned()), "{remaining:?}");
        assert!(remaining.contains(&"alive".to_owned()));
    }

    #[tokio::test]
    async fn fan_out_keeps_at_most_the_concurrency_bound_in_flight_and_sends_duplicates_once() {
        let endpoint = FakeEndpoint::start().await;
        endpoint.delay_answers(Duration::from_millis(20));
        let targets: Vec<SubscriptionTarget> = (0..40)
            .map(|n| target("S", &format!("c{n}")))
            .chain([target("S", "c0")])
            .collect();
        // No 410s, so the store is never touched: a store over an unreachable table is enough.
        let store = Store::new(
            crate::testing::dynamodb_client("http://127.0.0.1:9"),
            &crate::config::TableConfig {
                table_name: "unused".to_owned(),
            },
        );

        let report = endpoint
            .client(None)
            .with_concurrency(4)
            .fan_out(&store, &targets, &ack())
            .await;

        assert_eq!(report.delivered.len(), 40);
        assert_eq!(endpoint.attempts_to("c0"), 1);
        assert!(endpoint.max_in_flight() > 1, "posts ran one at a time");
        assert!(endpoint.max_in_flight() <= 4, "{} in flight", endpoint.max_in_flight());
    }
}
