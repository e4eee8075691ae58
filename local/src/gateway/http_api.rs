//! The HTTP API: API Gateway HTTP API with payload format 2.0 and a JWT authorizer.
//!
//! Per request, in API Gateway's order: body over the cap (10 MB) → `413`; no route → `404
//! {"message":"Not Found"}`; no or refused token → `401 {"message":"Unauthorized"}` with
//! `WWW-Authenticate` (no function runs); otherwise the exact `ApiGatewayV2httpRequest` JSON is
//! built and the route's function invoked. Its result is mapped as API Gateway maps a 2.0
//! response (`statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`; a result without
//! `statusCode` is a 200 JSON body); a function error or a malformed result is `500
//! {"message":"Internal Server Error"}`. Every response carries `apigw-requestid`.
//!
//! Event details: header names lowercased, repeated headers comma-joined, `cookie` moved to
//! `cookies`, `x-forwarded-*` and `x-amzn-trace-id` added; query parameters decoded with
//! repeats comma-joined; `body` base64-encoded unless the content type is textual; keys that
//! API Gateway omits when empty (`cookies`, `queryStringParameters`, `pathParameters`, `body`)
//! are omitted.
//!
//! Deliberate differences: `multiValueHeaders` in a result are honoured (API Gateway ignores
//! them in format 2.0); optional CORS answers preflights with `*` (the stack is local only).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use shared::jwt::VerifiedToken;
use time::OffsetDateTime;

use super::authorizer::{JwtAuthorizer, Refusal, jwt_context};
use super::routes::{RouteMatch, RouteTable};
use super::{ApiSettings, apigw_id, clf_time, epoch_millis, trace_id};
use crate::functions::{Functions, InvokeError};

/// API Gateway's payload limit for HTTP APIs.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Limits and extras of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpApiOptions {
    /// Request bodies above this many bytes are refused with 413.
    pub body_limit: usize,
    /// Answer CORS preflights and add `access-control-allow-origin: *` (for a local web client).
    pub cors: bool,
    /// How long a request body may take to arrive (API Gateway gives up after 30 s too); a
    /// client that declares more than it sends is answered 408 instead of holding a task forever.
    pub body_timeout: Duration,
}

impl Default for HttpApiOptions {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            cors: true,
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// The HTTP API gateway; [`HttpApi::router`] serves it.
#[derive(Debug)]
pub struct HttpApi {
    routes: Arc<RouteTable>,
    functions: Arc<Functions>,
    authorizer: JwtAuthorizer,
    settings: ApiSettings,
    options: HttpApiOptions,
}

impl HttpApi {
    /// An HTTP API serving `routes` with `functions`, every route behind `authorizer`.
    pub fn new(
        routes: Arc<RouteTable>,
        functions: Arc<Functions>,
        authorizer: JwtAuthorizer,
        settings: ApiSettings,
        options: HttpApiOptions,
    ) -> Self {
        Self {
            routes,
            functions,
            authorizer,
            settings,
            options,
        }
    }

    /// The axum router (serve it with `ConnectInfo<SocketAddr>`).
    pub fn router(self) -> axum::Router {
        axum::Router::new().fallback(handle).with_state(Arc::new(self))
    }

    async fn respond(&self, peer: SocketAddr, request: Request, request_id: &str) -> Response {
        let now = OffsetDateTime::now_utc();
        let (parts, body) = request.into_parts();
        let declared_length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_length.is_some_and(|length| length > self.options.body_limit) {
            return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
        if self.options.cors
            && parts.method == Method::OPTIONS
            && parts.headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return preflight(&parts.headers);
        }
        let Some(found) = self.routes.match_http(parts.method.as_str(), parts.uri.path()) else {
            return message(StatusCode::NOT_FOUND, "Not Found");
        };
        let token = match self.authorizer.authorize(&parts.headers).await {
            Ok(token) => token,
            Err(refusal) => return unauthorized(refusal),
        };
        let read = tokio::time::timeout(
            self.options.body_timeout,
            axum::body::to_bytes(body, self.options.body_limit),
        );
        let body = match read.await {
            Ok(Ok(body)) => body,
            Ok(Err(_)) => return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
            Err(_) => return message(StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
        };
        let event = build_event(&EventInput {
            parts: &parts,
            body: &body,
            found: &found,
            token: &token,
            peer,
            settings: &self.settings,
            request_id,
            now,
        });
        let function = &found.route.function;
        match self.functions.invoke(function, event).await {
            Ok(result) => map_result(result).unwrap_or_else(|problem| {
                tracing::error!(function, problem, "malformed function result");
                internal_error()
            }),
            Err(InvokeError::NotFound(_)) => {
                tracing::error!(function, "no function registered for the route");
                internal_error()
            }
            Err(InvokeError::Failed(_)) => internal_error(),
        }
    }
}

async fn handle(
    State(api): State<Arc<HttpApi>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let request_id = apigw_id();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = api.respond(peer, request, &request_id).await;
    tracing::debug!(%method, %path, status = response.status().as_u16(), request_id, "http api");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    if api.options.cors {
        response
            .headers_mut()
            .entry(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .or_insert(HeaderValue::from_static("*"));
    }
    response
}

/// Everything an `ApiGatewayV2httpRequest` is built from.
pub struct EventInput<'a> {
    /// The request line and headers.
    pub parts: &'a http::request::Parts,
    /// The raw body.
    pub body: &'a [u8],
    /// The selected route and its path parameters.
    pub found: &'a RouteMatch<'a>,
    /// The authorizer's verified token.
    pub token: &'a VerifiedToken,
    /// The client's address.
    pub peer: SocketAddr,
    /// API ids and names.
    pub settings: &'a ApiSettings,
    /// `requestContext.requestId`.
    pub request_id: &'a str,
    /// When the request arrived.
    pub now: OffsetDateTime,
}

/// The `ApiGatewayV2httpRequest` JSON API Gateway sends for this request.
pub fn build_event(input: &EventInput<'_>) -> Value {
    let parts = input.parts;
    let route_key = input.found.route.route_key.as_str();
    let raw_query = parts.uri.query().unwrap_or_default();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| input.peer.to_string(), str::to_owned);
    let domain_prefix = host.split('.').next().unwrap_or_default().to_owned();
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let source_ip = input.peer.ip().to_string();

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route_key));
    event.insert("rawPath".into(), json!(parts.uri.path()));
    event.insert("rawQueryString".into(), json!(raw_query));
    let cookies = cookies(&parts.headers);
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert(
        "headers".into(),
        Value::Object(event_headers(&parts.headers, input, &source_ip)),
    );
    let query = query_parameters(raw_query);
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if !input.found.path_parameters.is_empty() {
        event.insert("pathParameters".into(), json!(input.found.path_parameters));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": input.settings.account_id,
            "apiId": input.settings.http_api_id,
            "authorizer": { "jwt": jwt_context(input.token) },
            "domainName": host,
            "domainPrefix": domain_prefix,
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": protocol(parts.version),
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": input.request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": clf_time(input.now),
            "timeEpoch": epoch_millis(input.now),
        }),
    );
    let textual = is_textual(&parts.headers);
    if input.body.is_empty() {
        event.insert("isBase64Encoded".into(), json!(false));
    } else {
        let (body, encoded) = match std::str::from_utf8(input.body) {
            Ok(text) if textual => (text.to_owned(), false),
            _ => (STANDARD.encode(input.body), true),
        };
        event.insert("body".into(), json!(body));
        event.insert("isBase64Encoded".into(), json!(encoded));
    }
    Value::Object(event)
}

fn event_headers(headers: &HeaderMap, input: &EventInput<'_>, source_ip: &str) -> Map<String, Value> {
    let mut joined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if name == header::COOKIE {
            continue;
        }
        joined
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    joined
        .entry("x-forwarded-for".into())
        .or_default()
        .push(source_ip.to_owned());
    joined
        .entry("x-forwarded-port".into())
        .or_insert_with(|| vec![local_port(input).to_string()]);
    joined
        .entry("x-forwarded-proto".into())
        .or_insert_with(|| vec!["http".to_owned()]);
    joined
        .entry("x-amzn-trace-id".into())
        .or_insert_with(|| vec![trace_id(input.now)]);
    joined
        .into_iter()
        .map(|(name, values)| {
            let separator = if name == "x-forwarded-for" { ", " } else { "," };
            (name, Value::String(values.join(separator)))
        })
        .collect()
}

fn local_port(input: &EventInput<'_>) -> u16 {
    input
        .parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|host| host.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(80)
}

fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(';')
                .map(|cookie| cookie.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|cookie| !cookie.is_empty())
        .collect()
}

/// Decoded query parameters, repeats comma-joined, as in `queryStringParameters`.
pub fn query_parameters(raw_query: &str) -> BTreeMap<String, String> {
    let mut parameters: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        parameters
            .entry(name.into_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    parameters
}

fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

fn is_textual(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
        )
}

/// Maps a function's payload-2.0 result to the HTTP response API Gateway would send.
pub fn map_result(result: Value) -> Result<Response, &'static str> {
    let Value::Object(result) = result else {
        let body = match result {
            Value::String(text) => text,
            other => other.to_string(),
        };
        return Ok(json_response(StatusCode::OK, body));
    };
    let Some(status) = result.get("statusCode") else {
        return Ok(json_response(StatusCode::OK, Value::Object(result).to_string()));
    };
    let status = status
        .as_u64()
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or("statusCode is not an HTTP status")?;
    let mut response = Response::builder().status(status);
    let headers = response.headers_mut().ok_or("invalid response")?;
    let multi = result.get("multiValueHeaders").and_then(Value::as_object);
    if let Some(single) = result.get("headers").and_then(Value::as_object) {
        for (name, value) in single {
            if multi.is_some_and(|multi| multi.contains_key(name)) {
                continue;
            }
            append_header(headers, name, value)?;
        }
    }
    for (name, values) in multi.into_iter().flatten() {
        match values {
            Value::Array(values) => {
                for value in values {
                    append_header(headers, name, value)?;
                }
            }
            value => append_header(headers, name, value)?,
        }
    }
    for cookie in result.get("cookies").and_then(Value::as_array).into_iter().flatten() {
        append_header(headers, "set-cookie", cookie)?;
    }
    let body = match result.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(body)) => {
            if result.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
                STANDARD.decode(body).map_err(|_| "body is not valid base64")?
            } else {
                body.clone().into_bytes()
            }
        }
        Some(_) => return Err("body is not a string"),
    };
    response.body(Body::from(body)).map_err(|_| "invalid response")
}

fn append_header(headers: &mut HeaderMap, name: &str, value: &Value) -> Result<(), &'static str> {
    let value = match value {
        Value::String(s) => s.clone(),
        Value::Null => return Ok(()),
        other => other.to_string(),
    };
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| "invalid header name")?;
    let value = HeaderValue::from_str(&value).map_err(|_| "invalid header value")?;
    headers.append(name, value);
    Ok(())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"message": ...}` with `status`: API Gateway's own error responses.
pub(crate) fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, json!({ "message": text }).to_string())
}

fn unauthorized(refusal: Refusal) -> Response {
    let mut response = message(StatusCode::UNAUTHORIZED, "Unauthorized");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(refusal.www_authenticate()),
    );
    response
}

fn internal_error() -> Response {
    message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn preflight(headers: &HeaderMap) -> Response {
    let requested_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static("authorization,content-type"));
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET,POST,PUT,PATCH,DELETE,OPTIONS"),
            ),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, requested_headers),
            (header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600")),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests;
