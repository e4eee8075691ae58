//! Our local gateway: what AWS does not ship locally, on 127.0.0.1 listeners.
//!
//! - [`http_api`]: API Gateway HTTP API (payload format 2.0) with the JWT authorizer's behaviour.
//! - [`websocket`]: API Gateway WebSocket API (`$connect` / `$default` / `$disconnect`) and the
//!   `@connections` management API on the same listener.
//! - [`invoke`]: the Lambda Invoke API (`cognito-local` calls the user pool triggers through it).
//! - [`streams`]: the DynamoDB stream → `ws-broadcast` event source mapping.
//!
//! Every trigger builds the JSON event AWS would deliver and invokes the function through the
//! [`Functions`](crate::functions::Functions) registry, in process. [`shape`] compares built
//! events with the sample events in `events/`. Faithfulness notes and deliberate differences
//! are listed in each module's doc comment.

pub mod authorizer;
pub mod http_api;
pub mod invoke;
pub mod routes;
pub mod shape;
pub mod streams;
pub mod websocket;

#[cfg(test)]
pub(crate) mod test_support;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Names the gateway uses in the events it builds (API ids, account, region, stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// `awsRegion` / ARNs.
    pub region: String,
    /// `requestContext.accountId` and ARNs (moto's default account, so ARNs line up with it).
    pub account_id: String,
    /// `requestContext.apiId` of HTTP API events.
    pub http_api_id: String,
    /// `requestContext.apiId` of WebSocket events.
    pub websocket_api_id: String,
    /// The WebSocket API's stage: clients connect to `ws://<host>/<stage>`.
    pub websocket_stage: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            http_api_id: "cosmoshttp".to_owned(),
            websocket_api_id: "cosmoswebs".to_owned(),
            websocket_stage: "local".to_owned(),
        }
    }
}

/// A running listener; [`ServerHandle::shutdown`] (or dropping it) stops it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Serves `router` on `listener` (with the peer address available as `ConnectInfo`).
    pub fn spawn(listener: TcpListener, router: axum::Router) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%addr, %error, "listener failed");
            }
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), then stops.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// An id shaped like API Gateway's request and connection ids: 16 base64 characters ending
/// with `=` (11 bytes, mostly random). The URL-safe alphabet keeps ids usable in paths
/// unescaped, while the trailing `=` still exercises clients' percent-encoding.
pub(crate) fn apigw_id() -> String {
    let bytes = ulid::Ulid::generate().to_bytes();
    base64::engine::general_purpose::URL_SAFE.encode(&bytes[5..])
}

/// Epoch milliseconds, as in `timeEpoch`, `requestTimeEpoch` and `connectedAt`.
pub(crate) fn epoch_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `12/Mar/2020:19:03:58 +0000`: API Gateway's `time` / `requestTime` format.
pub(crate) fn clf_time(at: OffsetDateTime) -> String {
    let format = format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

/// RFC 3339 with milliseconds, as the `@connections` API reports times.
pub(crate) fn iso_time(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

/// An `X-Amzn-Trace-Id` value (`Root=1-<epoch hex>-<24 hex>`).
pub(crate) fn trace_id(at: OffsetDateTime) -> String {
    let random = ulid::Ulid::generate().to_bytes();
    let mut trace = format!("Root=1-{:08x}-", at.unix_timestamp());
    for byte in &random[4..16] {
        let _ = write!(trace, "{byte:02x}");
    }
    trace
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ids() {
        let id = apigw_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        assert!(
            id[..15]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(apigw_id(), apigw_id());
    }

    #[test]
    fn formats_times_like_api_gateway() {
        let at = time::macros::datetime!(2020-03-12 19:03:58.390 UTC);
        assert_eq!(clf_time(at), "12/Mar/2020:19:03:58 +0000");
        assert_eq!(iso_time(at), "2020-03-12T19:03:58.390Z");
        assert_eq!(epoch_millis(at), 1_584_039_838_390);
    }
}
