//! WebSocket frames: what the server sends (`{"type": "...", "data": {...}}`) and what clients
//! send (`{"action": "...", ...}`), plus the responses WebSocket routes give API Gateway.
//!
//! Every server → client frame is delivered with `postToConnection` (see `connections`), even
//! the direct answers to a client's own frame (`READY`, `HEARTBEAT_ACK`, `ERROR`), so the cloud
//! and the local stack behave alike.
//!
//! # Size
//! API Gateway caps a WebSocket message at 128 KB (sent as frames of at most 32 KB, which API
//! Gateway does itself). Frames carry ids and small entities; anything big is fetched over HTTP.
//! The one frame that grows with the user is `READY`, so it is paged:
//!
//! - `READY` `{"userId", "user", "servers", "channels", "partial"}` — `user` is the profile
//!   (`null` before one exists). When everything fits in [`READY_BUDGET_BYTES`] (~96 KB),
//!   `partial` is `false` and this is the only frame.
//! - Otherwise `READY` carries the first page with `partial: true`, followed (in order, on the
//!   same connection) by `READY_CONTINUE` `{"servers", "channels", "last"}` frames; the client
//!   appends each page's servers and channels until a `READY_CONTINUE` with `last: true`.
//!   A server's channels may span two pages.
//!
//! # Client frames
//! Routed by `action`: `{"action":"hello"}`, `{"action":"heartbeat"}`,
//! `{"action":"typing","channelId":"..."}`. Bad JSON, a missing or unknown `action`, or a frame
//! whose fields do not fit is a [`FrameError`], answered with an `ERROR` frame `{code, message}`.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::model::{Channel, Member, Message, Profile, Server};

/// Largest `postToConnection` payload API Gateway accepts (128 KB).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// How large one `READY`/`READY_CONTINUE` frame may grow before the rest goes into the next page:
/// well under [`MAX_MESSAGE_BYTES`], leaving room for the envelope.
pub const READY_BUDGET_BYTES: usize = 96 * 1024;

/// A server → client frame: `{"type": "MESSAGE_CREATE", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerFrame {
    /// The answer to `hello`: who the user is, their servers and channels (first page).
    Ready(Ready),
    /// A further page of `READY` (only when `READY` says `partial: true`).
    ReadyContinue(ReadyContinue),
    /// A message was posted.
    MessageCreate(Message),
    /// A message was edited (the whole new message).
    MessageUpdate(Message),
    /// A message was deleted.
    MessageDelete(MessageDeleted),
    /// A channel was created.
    ChannelCreate(Channel),
    /// A channel was changed.
    ChannelUpdate(Channel),
    /// A channel was deleted.
    ChannelDelete(ChannelDeleted),
    /// A server was changed.
    ServerUpdate(Server),
    /// A server was deleted.
    ServerDelete(ServerDeleted),
    /// Someone joined a server.
    MemberJoin(Member),
    /// Someone left (or was removed from) a server.
    MemberLeave(MemberLeft),
    /// Someone is typing in a channel (ephemeral: never stored).
    TypingStart(TypingStart),
    /// The answer to `heartbeat`.
    HeartbeatAck(HeartbeatAck),
    /// A client frame was refused.
    Error(ErrorFrame),
    // Still to come, with their payloads decided when their features land: USER_UPDATE,
    // PRESENCE_UPDATE.
}

impl ServerFrame {
    /// The frame's JSON (the bytes `postToConnection` sends).
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// The frame's `type` (for logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ready(_) => "READY",
            Self::ReadyContinue(_) => "READY_CONTINUE",
            Self::MessageCreate(_) => "MESSAGE_CREATE",
            Self::MessageUpdate(_) => "MESSAGE_UPDATE",
            Self::MessageDelete(_) => "MESSAGE_DELETE",
            Self::ChannelCreate(_) => "CHANNEL_CREATE",
            Self::ChannelUpdate(_) => "CHANNEL_UPDATE",
            Self::ChannelDelete(_) => "CHANNEL_DELETE",
            Self::ServerUpdate(_) => "SERVER_UPDATE",
            Self::ServerDelete(_) => "SERVER_DELETE",
            Self::MemberJoin(_) => "MEMBER_JOIN",
            Self::MemberLeave(_) => "MEMBER_LEAVE",
            Self::TypingStart(_) => "TYPING_START",
            Self::HeartbeatAck(_) => "HEARTBEAT_ACK",
            Self::Error(_) => "ERROR",
        }
    }

    /// An `ERROR` frame for a refused client frame.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::Error(ErrorFrame {
            code: code.to_owned(),
            message: message.into(),
        })
    }
}

/// `READY`: the first (often only) page of the user's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    /// The caller's user id (Cognito `sub`).
    pub user_id: String,
    /// The caller's profile, `null` until one exists.
    pub user: Option<Profile>,
    /// Servers the user belongs to (this page).
    pub servers: Vec<Server>,
    /// Channels of those servers (this page).
    pub channels: Vec<Channel>,
    /// True when `READY_CONTINUE` frames follow.
    pub partial: bool,
}

/// `READY_CONTINUE`: a further page of `READY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyContinue {
    /// More servers.
    pub servers: Vec<Server>,
    /// More channels.
    pub channels: Vec<Channel>,
    /// True on the final page.
    pub last: bool,
}

/// `MESSAGE_DELETE` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    /// The deleted message.
    pub id: String,
    /// Its channel.
    pub channel_id: String,
    /// Its server.
    pub server_id: String,
}

/// `CHANNEL_DELETE` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDeleted {
    /// The deleted channel.
    pub id: String,
    /// Its server.
    pub server_id: String,
}

/// `SERVER_DELETE` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerDeleted {
    /// The deleted server.
    pub id: String,
}

/// `MEMBER_LEAVE` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberLeft {
    /// The server.
    pub server_id: String,
    /// Who left.
    pub user_id: String,
}

/// `TYPING_START` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingStart {
    /// The channel being typed in.
    pub channel_id: String,
    /// Its server.
    pub server_id: String,
    /// Who is typing.
    pub user_id: String,
    /// RFC 3339, when the typing was reported.
    pub timestamp: String,
}

/// `HEARTBEAT_ACK` data (empty object: every frame has `data`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {}

/// `ERROR` data: the same `{code, message}` pair as the HTTP API's errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// Stable `snake_case` code.
    pub code: String,
    /// Human text.
    pub message: String,
}

impl From<&ApiError> for ErrorFrame {
    /// The code and message of an API error (an internal error's message stays generic).
    fn from(error: &ApiError) -> Self {
        Self {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

/// The `READY` frame, and `READY_CONTINUE` frames if it would not fit in `budget_bytes`
/// (use [`READY_BUDGET_BYTES`]). Channels are grouped after their server so pages stay
/// coherent; every server and channel appears exactly once, in order.
pub fn ready_frames(
    user_id: &str,
    user: Option<Profile>,
    servers: Vec<Server>,
    channels: Vec<Channel>,
    budget_bytes: usize,
) -> Vec<ServerFrame> {
    enum Entry {
        Server(Server),
        Channel(Channel),
    }
    let mut first = Ready {
        user_id: user_id.to_owned(),
        user,
        servers: Vec::new(),
        channels: Vec::new(),
        partial: false,
    };
    let envelope = serialized_len(&ServerFrame::Ready(first.clone()));

    let mut by_server: Vec<Entry> = Vec::with_capacity(servers.len() + channels.len());
    let mut channels_of: HashMap<String, Vec<Channel>> = HashMap::new();
    for channel in channels {
        channels_of.entry(channel.server_id.clone()).or_default().push(channel);
    }
    for server in servers {
        let own = channels_of.remove(&server.id).unwrap_or_default();
        by_server.push(Entry::Server(server));
        by_server.extend(own.into_iter().map(Entry::Channel));
    }
    // Channels of servers not listed (should not happen) still reach the client.
    let mut orphans: Vec<Channel> = channels_of.into_values().flatten().collect();
    orphans.sort_by(|a, b| a.id.cmp(&b.id));
    by_server.extend(orphans.into_iter().map(Entry::Channel));

    // Pages of (servers, channels); the first page also carries the envelope and profile.
    let mut pages: Vec<(Vec<Server>, Vec<Channel>)> = vec![(Vec::new(), Vec::new())];
    let mut page_bytes = envelope;
    for entry in by_server {
        let size = match &entry {
            Entry::Server(server) => serialized_len(server),
            Entry::Channel(channel) => serialized_len(channel),
        } + 1;
        let page_is_empty = pages.last().is_none_or(|(s, c)| s.is_empty() && c.is_empty());
        if page_bytes + size > budget_bytes && !page_is_empty {
            pages.push((Vec::new(), Vec::new()));
            page_bytes = CONTINUE_ENVELOPE_BYTES;
        }
        page_bytes += size;
        if let Some((page_servers, page_channels)) = pages.last_mut() {
            match entry {
                Entry::Server(server) => page_servers.push(server),
                Entry::Channel(channel) => page_channels.push(channel),
            }
        }
    }

    let count = pages.len();
    let mut pages = pages.into_iter();
    if let Some((servers, channels)) = pages.next() {
        first.servers = servers;
        first.channels = channels;
    }
    first.partial = count > 1;
    let mut frames = vec![ServerFrame::Ready(first)];
    frames.extend(pages.enumerate().map(|(index, (servers, channels))| {
        ServerFrame::ReadyContinue(ReadyContinue {
            servers,
            channels,
            last: index + 2 == count,
        })
    }));
    frames
}

/// `{"type":"READY_CONTINUE","data":{"servers":[],"channels":[],"last":false}}` with margin.
const CONTINUE_ENVELOPE_BYTES: usize = 96;

fn serialized_len(value: &impl Serialize) -> usize {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len())
}

/// A client → server frame, routed by `action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ClientFrame {
    /// `{"action":"hello"}`: send me `READY`.
    Hello,
    /// `{"action":"heartbeat"}`: keep the socket from idling out; answered with `HEARTBEAT_ACK`.
    Heartbeat,
    /// `{"action":"typing","channelId":"..."}`: tell the channel I am typing.
    #[serde(rename_all = "camelCase")]
    Typing {
        /// The channel being typed in.
        channel_id: String,
    },
}

/// The actions [`ClientFrame`] knows.
const ACTIONS: [&str; 3] = ["hello", "heartbeat", "typing"];

/// Why a client frame was refused; rendered as an `ERROR` frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The body is not JSON (or is empty).
    #[error("frame is not valid JSON")]
    InvalidJson,
    /// The JSON is not an object with a string `action`.
    #[error("frame has no action")]
    MissingAction,
    /// `action` names nothing we route.
    #[error("unknown action (expected one of: hello, heartbeat, typing)")]
    UnknownAction,
    /// The action is known but its fields do not fit.
    #[error("{0}")]
    InvalidFrame(String),
}

impl FrameError {
    /// The stable `snake_case` code of the `ERROR` frame.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::MissingAction => "missing_action",
            Self::UnknownAction => "unknown_action",
            Self::InvalidFrame(_) => "invalid_frame",
        }
    }

    /// The `ERROR` frame for this refusal.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::error(self.code(), self.to_string())
    }
}

impl ClientFrame {
    /// Parses a client frame; never echoes the input back in an error.
    pub fn parse(body: &str) -> Result<Self, FrameError> {
        let value: serde_json::Value = serde_json::from_str(body).map_err(|_| FrameError::InvalidJson)?;
        let action = value
            .get("action")
            .and_then(serde_json::Value::as_str)
            .ok_or(FrameError::MissingAction)?;
        if !ACTIONS.contains(&action) {
            return Err(FrameError::UnknownAction);
        }
        serde_json::from_value(value).map_err(|error| {
            let text = error.to_string();
            FrameError::InvalidFrame(
                text.split(" at line ")
                    .next()
                    .unwrap_or("frame does not match its action")
                    .to_owned(),
            )
        })
    }
}

/// The `ERROR` frame for an API error; a 5xx is logged once here and stays generic for the client.
pub fn error_frame(error: &ApiError) -> ServerFrame {
    error.log_if_server_error("websocket frame failed");
    ServerFrame::Error(ErrorFrame::from(error))
}

/// The calling socket's id from a WebSocket route event (API Gateway always sets it).
pub fn connection_id(request: &ApiGatewayWebsocketProxyRequest) -> Result<&str, ApiError> {
    request
        .request_context
        .connection_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_connection_id", "the request has no connection id"))
}

/// The response a WebSocket route (`$connect`, `$disconnect`, `$default`) gives API Gateway.
/// API Gateway only looks at the status for `$connect` (non-2xx refuses the socket); the body
/// is never shown to the client, but stays in our JSON shape for logs and local tools.
pub fn route_response(status: StatusCode) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status.as_u16());
    response
}

/// A route's error response: the status and `{"error":{code,message}}`; 5xx logged once.
pub fn route_error(error: &ApiError) -> ApiGatewayProxyResponse {
    error.log_if_server_error("websocket route failed");
    let mut response = route_response(error.status());
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(error.body().to_string()));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::model::ChannelKind;
    use serde_json::json;

    fn server(n: usize) -> Server {
        Server {
            id: format!("01JE00000000000000000S{n:04}"),
            name: format!("server {n}"),
            owner_id: "0c6a8b1e-5f3d-4e2a-9b7c-1d2e3f4a5b6c".to_owned(),
            created_at: "2026-12-03T16:23:42.123Z".to_owned(),
        }
    }

    fn channel(server: &Server, n: usize) -> Channel {
        Channel {
            id: format!("01JE00000000000000000C{n:04}"),
            server_id: server.id.clone(),
            name: format!("channel-{n}-{}", "x".repeat(80)),
            kind: ChannelKind::Text,
            created_at: "2026-12-03T16:23:42.123Z".to_owned(),
        }
    }

    #[test]
    fn server_frames_are_adjacently_tagged_with_type_and_data() {
        let frame = ServerFrame::ChannelCreate(channel(&server(1), 1));
        let value = serde_json::to_value(&frame).unwrap();
        assert_eq!(value["type"], "CHANNEL_CREATE");
        assert_eq!(value["data"]["serverId"], "01JE00000000000000000S0001");
        assert_eq!(serde_json::from_value::<ServerFrame>(value).unwrap(), frame);
    }

    #[test]
    fn heartbeat_ack_and_error_frames_carry_data_objects() {
        assert_eq!(
            serde_json::to_value(ServerFrame::HeartbeatAck(HeartbeatAck {})).unwrap(),
            json!({"type": "HEARTBEAT_ACK", "data": {}})
        );
        assert_eq!(
            serde_json::to_value(FrameError::UnknownAction.to_frame()).unwrap()["data"]["code"],
            "unknown_action"
        );
    }

    #[test]
    fn kind_matches_the_serialized_type() {
        let frames = [
            ServerFrame::HeartbeatAck(HeartbeatAck {}),
            ServerFrame::error("x", "y"),
            ServerFrame::ServerDelete(ServerDeleted { id: "s".to_owned() }),
            ServerFrame::MemberLeave(MemberLeft {
                server_id: "s".to_owned(),
                user_id: "u".to_owned(),
            }),
        ];
        for frame in frames {
            assert_eq!(serde_json::to_value(&frame).unwrap()["type"], frame.kind());
        }
    }

    #[test]
    fn parses_every_client_action() {
        assert_eq!(ClientFrame::parse(r#"{"action":"hello"}"#), Ok(ClientFrame::Hello));
        assert_eq!(
            ClientFrame::parse(r#"{"action":"heartbeat","extra":1}"#),
            Ok(ClientFrame::Heartbeat)
        );
        assert_eq!(
            ClientFrame::parse(r#"{"action":"typing","channelId":"C1"}"#),
            Ok(ClientFrame::Typing {
                channel_id: "C1".to_owned()
            })
        );
    }

    #[test]
    fn refuses_bad_json_missing_and_unknown_actions_with_distinct_codes() {
        assert_eq!(ClientFrame::parse("{\"action\":").unwrap_err().code(), "invalid_json");
        assert_eq!(ClientFrame::parse("").unwrap_err().code(), "invalid_json");
        assert_eq!(ClientFrame::parse("[1]").unwrap_err().code(), "missing_action");
        assert_eq!(
            ClientFrame::parse(r#"{"action":5}"#).unwrap_err().code(),
            "missing_action"
        );
        assert_eq!(
            ClientFrame::parse(r#"{"action":"sendmessage"}"#).unwrap_err().code(),
            "unknown_action"
        );
        let invalid = ClientFrame::parse(r#"{"action":"typing"}"#).unwrap_err();
        assert_eq!(invalid.code(), "invalid_frame");
        assert_eq!(invalid.to_string(), "missing field `channelId`");
    }

    #[test]
    fn errors_never_echo_the_frame() {
        let secret = "eyJhbGciOiJSUzI1NiJ9.secret";
        for body in [
            format!("{{\"action\":\"{secret}\"}}"),
            format!("{{\"action\":\"typing\",\"channelId\":{{\"{secret}\":1}}}}"),
        ] {
            let error = ClientFrame::parse(&body).unwrap_err();
            assert!(!error.to_string().contains(secret), "{error}");
        }
    }

    #[test]
    fn a_small_ready_is_one_frame() {
        let servers = vec![server(1)];
        let channels = vec![channel(&servers[0], 1)];
        let frames = ready_frames("u", None, servers.clone(), channels.clone(), READY_BUDGET_BYTES);
        assert_eq!(frames.len(), 1);
        let ServerFrame::Ready(ready) = &frames[0] else {
            panic!("{frames:?}")
        };
        assert!(!ready.partial);
        assert_eq!((ready.servers.clone(), ready.channels.clone()), (servers, channels));
        assert_eq!(
            serde_json::to_value(&frames[0]).unwrap()["data"]["user"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn a_large_ready_is_paged_under_the_budget_and_loses_nothing() {
        let servers: Vec<Server> = (0..60).map(server).collect();
        let channels: Vec<Channel> = servers
            .iter()
            .enumerate()
            .flat_map(|(s, srv)| (0..12).map(move |c| channel(srv, s * 100 + c)))
            .collect();
        let profile = Profile {
            id: "u".to_owned(),
            handle: "ada".to_owned(),
            created_at: "2026-12-03T16:23:42.123Z".to_owned(),
        };

        let frames = ready_frames(
            "u",
            Some(profile),
            servers.clone(),
            channels.clone(),
            READY_BUDGET_BYTES,
        );

        assert!(frames.len() > 1, "{} frames", frames.len());
        let mut seen_servers = Vec::new();
        let mut seen_channels = Vec::new();
        for (index, frame) in frames.iter().enumerate() {
            assert!(
                frame.to_bytes().unwrap().len() <= READY_BUDGET_BYTES,
                "frame {index} too big"
            );
            match frame {
                ServerFrame::Ready(ready) => {
                    assert_eq!(index, 0);
                    assert!(ready.partial);
                    assert_eq!(ready.user.as_ref().map(|p| p.handle.as_str()), Some("ada"));
                    seen_servers.extend(ready.servers.clone());
                    seen_channels.extend(ready.channels.clone());
                }
                ServerFrame::ReadyContinue(page) => {
                    assert!(index > 0);
                    assert_eq!(page.last, index == frames.len() - 1);
                    seen_servers.extend(page.servers.clone());
                    seen_channels.extend(page.channels.clone());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut expected_channels = channels;
        expected_channels.sort_by(|a, b| a.id.cmp(&b.id));
        seen_channels.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(seen_servers, servers);
        assert_eq!(seen_channels, expected_channels);
    }

    #[test]
    fn route_errors_render_the_json_error_body() {
        let response = route_error(&ApiError::Unauthorized);
        assert_eq!(response.status_code, 401);
        let Some(Body::Text(body)) = response.body else {
            panic!("no body")
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
            "unauthorized"
        );
    }
}
