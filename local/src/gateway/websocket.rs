//! The WebSocket API and its `@connections` management API, on one listener.
//!
//! Clients connect to `ws://127.0.0.1:<port>/<stage>?token=...`. As in API Gateway, the
//! `$connect` function runs before the handshake completes: a non-2xx result refuses the
//! upgrade with that status (and nothing else happens — no `$disconnect`); a function error
//! refuses it with 500. Each client message becomes a `MESSAGE` event on the route selected by
//! `$request.body.action` (falling back to `$default`), invoked concurrently as API Gateway does;
//! a failed invocation sends the client API Gateway's `{"message": "Internal server error", ...}`
//! frame. Whoever closes, the `$disconnect` function then gets `disconnectStatusCode` and
//! `disconnectReason`; the connection is gone from `@connections` before it runs.
//!
//! Limits as API Gateway: client messages over 32 KB close the connection with 1009 ("Message
//! too big"); 10 minutes without a client message and 2 hours in total close it with 1001
//! ("Going away"); `@connections` payloads over 128 KB answer 413. Both timeouts are
//! configurable for tests. Server → client data (`@connections` POST) does not count as
//! activity: clients keep a connection alive by sending heartbeats.
//!
//! `@connections` (POST / GET / DELETE under `/@connections/{id}` and
//! `/<stage>/@connections/{id}`) answers unknown or closed ids with 410 and
//! `x-amzn-ErrorType: GoneException`, so the AWS SDK reports `GoneException`. Request signatures
//! are not checked (anyone on 127.0.0.1 may post; the cloud checks IAM).
//!
//! Event header names are sent in canonical case (`Sec-WebSocket-Key`), as API Gateway does.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::routes::RouteTable;
use super::{ApiSettings, apigw_id, clf_time, epoch_millis, iso_time, trace_id};
use crate::functions::{Functions, InvokeError};

/// API Gateway's limits for WebSocket APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketOptions {
    /// A connection without client messages for this long is closed (API Gateway: 10 min).
    pub idle_timeout: Duration,
    /// A connection is closed after this long in any case (API Gateway: 2 h).
    pub max_lifetime: Duration,
    /// Client messages over this many bytes close the connection with 1009 (API Gateway: 32 KB).
    pub max_client_message_bytes: usize,
    /// `@connections` payloads over this many bytes answer 413 (API Gateway: 128 KB).
    pub max_post_bytes: usize,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(10 * 60),
            max_lifetime: Duration::from_secs(2 * 60 * 60),
            max_client_message_bytes: 32 * 1024,
            max_post_bytes: 128 * 1024,
        }
    }
}

/// The WebSocket API; [`WebSocketApi::router`] serves it with `@connections`.
#[derive(Debug)]
pub struct WebSocketApi {
    routes: Arc<RouteTable>,
    functions: Arc<Functions>,
    settings: ApiSettings,
    options: WebSocketOptions,
    connections: ConnectionRegistry,
}

/// The open connections, by id (shared by the WebSocket handler and `@connections`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionRegistry {
    inner: Arc<Mutex<HashMap<String, Arc<Connection>>>>,
    /// Connection tasks still running (their `$disconnect` included).
    running: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts a connection task as running until dropped.
struct Running(Arc<std::sync::atomic::AtomicUsize>);

impl Running {
    fn start(counter: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One open connection.
#[derive(Debug)]
struct Connection {
    context: ConnectionContext,
    last_active: Mutex<OffsetDateTime>,
    outbox: mpsc::Sender<Outbound>,
}

/// What every event of one connection shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionContext {
    /// `requestContext.connectionId`.
    pub connection_id: String,
    /// When the connection was accepted.
    pub connected_at: OffsetDateTime,
    /// `requestContext.identity.sourceIp`.
    pub source_ip: String,
    /// `requestContext.identity.userAgent` (`$connect`) and `@connections` GET.
    pub user_agent: String,
    /// `Host` of the handshake (`requestContext.domainName`).
    pub domain_name: String,
    /// `requestContext.stage`.
    pub stage: String,
    /// `requestContext.apiId`.
    pub api_id: String,
}

#[derive(Debug)]
enum Outbound {
    Send(Message, oneshot::Sender<bool>),
    Close(u16, &'static str),
}

impl ConnectionRegistry {
    /// Ids of the open connections.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Closes every connection with 1001 "Going away" (stack shutdown) and waits, up to
    /// `timeout`, until their `$disconnect` invocations have finished.
    pub async fn close_all(&self, timeout: Duration) {
        let connections: Vec<Arc<Connection>> = self.lock().values().cloned().collect();
        for connection in connections {
            let _ = connection.outbox.send(Outbound::Close(1001, "Going away")).await;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while self.running.load(std::sync::atomic::Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Connection>>> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.lock().get(id).cloned()
    }
}

impl WebSocketApi {
    /// A WebSocket API serving the WebSocket routes of `routes` with `functions`.
    pub fn new(
        routes: Arc<RouteTable>,
        functions: Arc<Functions>,
        settings: ApiSettings,
        options: WebSocketOptions,
    ) -> Self {
        Self {
            routes,
            functions,
            settings,
            options,
            connections: ConnectionRegistry::default(),
        }
    }

    /// The open connections.
    pub fn connections(&self) -> ConnectionRegistry {
        self.connections.clone()
    }

    /// The axum router (serve it with `ConnectInfo<SocketAddr>`).
    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route("/@connections/{id}", any(manage))
            .route("/{stage}/@connections/{id}", any(manage_staged))
            .route("/{stage}", get(connect))
            .fallback(|| async { forbidden() })
            .with_state(Arc::new(self))
    }

    async fn invoke_route(&self, route_key: &str, event: Value) -> Option<Result<Value, InvokeError>> {
        let function = self.routes.websocket_routes.get(route_key)?;
        Some(self.functions.invoke(function, event).await)
    }

    fn select_route(&self, body: &str) -> Option<&str> {
        let action = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|value| value.get("action").and_then(Value::as_str).map(str::to_owned));
        match action {
            Some(action) if !action.starts_with('$') => self
                .routes
                .websocket_routes
                .get_key_value(action.as_str())
                .map(|(key, _)| key.as_str()),
            _ => None,
        }
        .or_else(|| {
            self.routes
                .websocket_routes
                .contains_key("$default")
                .then_some("$default")
        })
    }
}

async fn connect(
    State(api): State<Arc<WebSocketApi>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(stage): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if stage != api.settings.websocket_stage {
        return forbidden();
    }
    let Ok(upgrade) = upgrade else {
        return super::http_api::message(StatusCode::UPGRADE_REQUIRED, "Upgrade Required");
    };
    let now = OffsetDateTime::now_utc();
    let context = ConnectionContext {
        connection_id: apigw_id(),
        connected_at: now,
        source_ip: peer.ip().to_string(),
        user_agent: header_text(&headers, header::USER_AGENT.as_str()).unwrap_or_default(),
        domain_name: header_text(&headers, header::HOST.as_str()).unwrap_or_else(|| peer.to_string()),
        stage,
        api_id: api.settings.websocket_api_id.clone(),
    };
    let event = connect_event(&context, &headers, query.as_deref().unwrap_or_default(), peer, now);
    let mut accepted_headers = HeaderMap::new();
    match api.invoke_route("$connect", event).await {
        None => {}
        Some(Ok(result)) => {
            let status = result
                .get("statusCode")
                .and_then(Value::as_u64)
                .and_then(|code| u16::try_from(code).ok())
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::OK);
            if !status.is_success() {
                tracing::info!(connection_id = %context.connection_id, status = status.as_u16(), "$connect refused");
                return refusal(status, &result);
            }
            accepted_headers = response_headers(&result);
        }
        Some(Err(error)) => {
            tracing::warn!(connection_id = %context.connection_id, %error, "$connect failed");
            return super::http_api::message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
        }
    }
    let hard_limit = api.options.max_client_message_bytes.max(128 * 1024) * 2;
    let mut upgrade = upgrade.max_frame_size(hard_limit).max_message_size(hard_limit);
    if let Some(protocol) = accepted_headers.remove(header::SEC_WEBSOCKET_PROTOCOL)
        && let Ok(protocol) = protocol.to_str()
    {
        upgrade = upgrade.protocols([protocol.to_owned()]);
    }
    let mut response = upgrade.on_upgrade(move |socket| run(api, socket, context));
    for (name, value) in &accepted_headers {
        response.headers_mut().append(name, value.clone());
    }
    response
}

/// Runs one accepted connection until either side closes it, then fires `$disconnect`.
async fn run(api: Arc<WebSocketApi>, socket: WebSocket, context: ConnectionContext) {
    let _running = Running::start(&api.connections.running);
    let (outbox, mut inbox) = mpsc::channel::<Outbound>(64);
    let connection = Arc::new(Connection {
        context: context.clone(),
        last_active: Mutex::new(context.connected_at),
        outbox,
    });
    let id = context.connection_id.clone();
    api.connections.lock().insert(id.clone(), connection.clone());
    tracing::debug!(connection_id = %id, "connected");

    let (mut sink, mut stream) = socket.split();
    let idle = tokio::time::sleep(api.options.idle_timeout);
    let lifetime = tokio::time::sleep(api.options.max_lifetime);
    tokio::pin!(idle, lifetime);
    let (code, reason, server_closed): (u16, String, bool) = loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if text.len() > api.options.max_client_message_bytes {
                        break (1009, "Message too big".to_owned(), true);
                    }
                    idle.as_mut().reset(tokio::time::Instant::now() + api.options.idle_timeout);
                    connection.touch();
                    spawn_message(&api, &connection, text.as_str().to_owned(), false);
                }
                Some(Ok(Message::Binary(data))) => {
                    if data.len() > api.options.max_client_message_bytes {
                        break (1009, "Message too big".to_owned(), true);
                    }
                    idle.as_mut().reset(tokio::time::Instant::now() + api.options.idle_timeout);
                    connection.touch();
                    spawn_message(&api, &connection, STANDARD.encode(&data), true);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(Some(frame)))) => break (frame.code, frame.reason.as_str().to_owned(), false),
                Some(Ok(Message::Close(None))) => break (1005, "Client-side close frame status not set".to_owned(), false),
                Some(Err(error)) => {
                    let too_big = error.to_string().to_ascii_lowercase().contains("too long")
                        || error.to_string().to_ascii_lowercase().contains("capacity");
                    if too_big {
                        break (1009, "Message too big".to_owned(), true);
                    }
                    break (1006, "Connection closed abnormally".to_owned(), false);
                }
                None => break (1006, "Connection closed abnormally".to_owned(), false),
            },
            command = inbox.recv() => match command {
                Some(Outbound::Send(message, delivered)) => {
                    let sent = sink.send(message).await.is_ok();
                    let _ = delivered.send(sent);
                    if !sent {
                        break (1006, "Connection closed abnormally".to_owned(), false);
                    }
                }
                Some(Outbound::Close(code, reason)) => break (code, reason.to_owned(), true),
                None => break (1001, "Going away".to_owned(), true),
            },
            () = &mut idle => break (1001, "Going away".to_owned(), true),
            () = &mut lifetime => break (1001, "Going away".to_owned(), true),
        }
    };
    api.connections.lock().remove(&id);
    inbox.close();
    if server_closed {
        let frame = CloseFrame {
            code,
            reason: reason.clone().into(),
        };
        if sink.send(Message::Close(Some(frame))).await.is_ok() {
            // Give the client a moment to answer the close handshake.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
    let _ = sink.close().await;
    tracing::debug!(connection_id = %id, code, reason, "disconnected");
    let event = disconnect_event(&context, code, &reason, OffsetDateTime::now_utc());
    if let Some(Err(error)) = api.invoke_route("$disconnect", event).await {
        tracing::warn!(connection_id = %id, %error, "$disconnect failed");
    }
}

fn spawn_message(api: &Arc<WebSocketApi>, connection: &Arc<Connection>, body: String, binary: bool) {
    let api = api.clone();
    let connection = connection.clone();
    tokio::spawn(async move {
        let request_id = apigw_id();
        let route_key = if binary {
            api.routes
                .websocket_routes
                .contains_key("$default")
                .then_some("$default")
        } else {
            api.select_route(&body)
        };
        let error = match route_key {
            None => Some("Forbidden"),
            Some(route_key) => {
                let event = message_event(
                    &connection.context,
                    route_key,
                    &body,
                    binary,
                    &request_id,
                    OffsetDateTime::now_utc(),
                );
                match api.invoke_route(route_key, event).await {
                    Some(Ok(_)) => None,
                    Some(Err(error)) => {
                        tracing::warn!(connection_id = %connection.context.connection_id, route_key, %error, "message route failed");
                        Some("Internal server error")
                    }
                    None => Some("Forbidden"),
                }
            }
        };
        if let Some(message) = error {
            let frame = json!({
                "message": message,
                "connectionId": connection.context.connection_id,
                "requestId": request_id,
            });
            let (delivered, _) = oneshot::channel();
            let _ = connection
                .outbox
                .send(Outbound::Send(Message::Text(frame.to_string().into()), delivered))
                .await;
        }
    });
}

impl Connection {
    fn touch(&self) {
        *self
            .last_active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = OffsetDateTime::now_utc();
    }

    fn last_active(&self) -> OffsetDateTime {
        *self
            .last_active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn manage(
    State(api): State<Arc<WebSocketApi>>,
    method: http::Method,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    management(&api, &method, &id, body).await
}

async fn manage_staged(
    State(api): State<Arc<WebSocketApi>>,
    method: http::Method,
    Path((stage, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if stage != api.settings.websocket_stage {
        return forbidden();
    }
    management(&api, &method, &id, body).await
}

async fn management(api: &WebSocketApi, method: &http::Method, id: &str, body: Bytes) -> Response {
    let Some(connection) = api.connections.get(id) else {
        return gone();
    };
    match *method {
        http::Method::POST => {
            if body.len() > api.options.max_post_bytes {
                return error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLargeException",
                    &json!("Payload too large"),
                );
            }
            let message = match String::from_utf8(body.to_vec()) {
                Ok(text) => Message::Text(text.into()),
                Err(binary) => Message::Binary(binary.into_bytes().into()),
            };
            let (delivered, outcome) = oneshot::channel();
            if connection
                .outbox
                .send(Outbound::Send(message, delivered))
                .await
                .is_err()
            {
                return gone();
            }
            match outcome.await {
                Ok(true) => StatusCode::OK.into_response(),
                _ => gone(),
            }
        }
        http::Method::GET => {
            let info = json!({
                "connectedAt": iso_time(connection.context.connected_at),
                "identity": {
                    "sourceIp": connection.context.source_ip,
                    "userAgent": connection.context.user_agent,
                },
                "lastActiveAt": iso_time(connection.last_active()),
            });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                info.to_string(),
            )
                .into_response()
        }
        http::Method::DELETE => {
            if connection.outbox.send(Outbound::Close(1000, "")).await.is_err() {
                return gone();
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error_response(StatusCode::FORBIDDEN, "ForbiddenException", &json!("Forbidden")),
    }
}

fn error_response(status: StatusCode, error_type: &'static str, message: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (HeaderName::from_static("x-amzn-errortype"), error_type),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn gone() -> Response {
    error_response(StatusCode::GONE, "GoneException", &Value::Null)
}

fn forbidden() -> Response {
    error_response(StatusCode::FORBIDDEN, "ForbiddenException", &json!("Forbidden"))
}

fn refusal(status: StatusCode, result: &Value) -> Response {
    let body = result
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut response = (status, body).into_response();
    let headers = response_headers(result);
    // The function's headers replace axum's defaults (its text/plain content type) rather than
    // adding a second value next to them.
    for name in headers.keys() {
        response.headers_mut().remove(name);
    }
    for (name, value) in &headers {
        response.headers_mut().append(name, value.clone());
    }
    response
}

fn response_headers(result: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in result.get("headers").and_then(Value::as_object).into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// `sec-websocket-key` → `Sec-WebSocket-Key`, as API Gateway presents header names.
pub fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|word| match word.to_ascii_lowercase().as_str() {
            "websocket" => "WebSocket".to_owned(),
            lower => {
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn request_context(
    context: &ConnectionContext,
    route_key: &str,
    event_type: &str,
    now: OffsetDateTime,
) -> Map<String, Value> {
    let mut request_context = Map::new();
    request_context.insert("routeKey".into(), json!(route_key));
    request_context.insert("eventType".into(), json!(event_type));
    request_context.insert("extendedRequestId".into(), json!(apigw_id()));
    request_context.insert("requestTime".into(), json!(clf_time(now)));
    request_context.insert("messageDirection".into(), json!("IN"));
    request_context.insert("stage".into(), json!(context.stage));
    request_context.insert("connectedAt".into(), json!(epoch_millis(context.connected_at)));
    request_context.insert("requestTimeEpoch".into(), json!(epoch_millis(now)));
    request_context.insert("identity".into(), json!({ "sourceIp": context.source_ip }));
    request_context.insert("requestId".into(), json!(apigw_id()));
    request_context.insert("domainName".into(), json!(context.domain_name));
    request_context.insert("connectionId".into(), json!(context.connection_id));
    request_context.insert("apiId".into(), json!(context.api_id));
    request_context
}

/// The `$connect` event (`ApiGatewayWebsocketProxyRequest` JSON) for a handshake.
pub fn connect_event(
    context: &ConnectionContext,
    headers: &HeaderMap,
    raw_query: &str,
    peer: SocketAddr,
    now: OffsetDateTime,
) -> Value {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if name == header::CONNECTION || name == header::UPGRADE {
            continue;
        }
        multi
            .entry(canonical_header_name(name.as_str()))
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    multi
        .entry("X-Amzn-Trace-Id".into())
        .or_insert_with(|| vec![trace_id(now)]);
    multi
        .entry("X-Forwarded-For".into())
        .or_default()
        .push(context.source_ip.clone());
    let local_port = context
        .domain_name
        .rsplit_once(':')
        .map_or("80", |(_, port)| port)
        .to_owned();
    multi
        .entry("X-Forwarded-Port".into())
        .or_insert_with(|| vec![local_port]);
    multi
        .entry("X-Forwarded-Proto".into())
        .or_insert_with(|| vec!["http".to_owned()]);
    let single: Map<String, Value> = multi
        .iter()
        .map(|(name, values)| (name.clone(), json!(values.join(", "))))
        .collect();

    let mut event = Map::new();
    event.insert("headers".into(), Value::Object(single));
    event.insert("multiValueHeaders".into(), json!(multi));
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        query.entry(name.into_owned()).or_default().push(value.into_owned());
    }
    if !query.is_empty() {
        let last: BTreeMap<&String, &String> = query
            .iter()
            .filter_map(|(name, values)| values.last().map(|value| (name, value)))
            .collect();
        event.insert("queryStringParameters".into(), json!(last));
        event.insert("multiValueQueryStringParameters".into(), json!(query));
    }
    let mut request_context = request_context(context, "$connect", "CONNECT", now);
    request_context.insert(
        "identity".into(),
        json!({ "userAgent": context.user_agent, "sourceIp": peer.ip().to_string() }),
    );
    event.insert("requestContext".into(), Value::Object(request_context));
    event.insert("isBase64Encoded".into(), json!(false));
    Value::Object(event)
}

/// The `MESSAGE` event for a client message on `route_key`.
pub fn message_event(
    context: &ConnectionContext,
    route_key: &str,
    body: &str,
    is_base64_encoded: bool,
    request_id: &str,
    now: OffsetDateTime,
) -> Value {
    let mut request_context = request_context(context, route_key, "MESSAGE", now);
    request_context.insert("messageId".into(), json!(apigw_id()));
    request_context.insert("requestId".into(), json!(request_id));
    json!({
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    })
}

/// The `$disconnect` event.
pub fn disconnect_event(context: &ConnectionContext, code: u16, reason: &str, now: OffsetDateTime) -> Value {
    let mut request_context = request_context(context, "$disconnect", "DISCONNECT", now);
    request_context.insert("disconnectStatusCode".into(), json!(code));
    request_context.insert("disconnectReason".into(), json!(reason));
    let headers = json!({
        "Host": context.domain_name,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    });
    let multi: Map<String, Value> = headers
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), json!([value])))
        .collect();
    json!({
        "headers": headers,
        "multiValueHeaders": multi,
        "requestContext": request_context,
        "isBase64Encoded": false,
    })
}

#[cfg(test)]
mod tests;
