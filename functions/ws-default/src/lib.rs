//! `ws-default`: the WebSocket API's `$default` route — every frame a client sends.
//!
//! - **Route:** `$default`. Client frames are JSON routed by `action` (`shared::frames`):
//!   `hello` → `READY` (paged as `READY_CONTINUE` if large), `heartbeat` → `HEARTBEAT_ACK`,
//!   `typing` → `TYPING_START` to the channel's server. Bad JSON, binary frames and unknown
//!   actions → an `ERROR` frame `{code, message}`. Every answer goes back with
//!   `postToConnection` (never in the route response), and the route always answers 200.
//! - **Auth:** the socket was authenticated at `$connect`; its user is read from
//!   `CONN#<connectionId>` / `CONN`. Typing is authorized on the base table: channel →
//!   server (`CHANNEL#<id>` / `META`), then the membership (`SERVER#<id>` / `MEMBER#<userId>`).
//! - **Access pattern:** see `hello` and `typing`. Typing is ephemeral: it goes straight to the
//!   server's subscriptions (`SERVER#<id>` / `SUB#...`), never through the table.
//! - **Env:** `TABLE_NAME`, `CONNECTIONS_ENDPOINT`.

mod hello;
#[cfg(test)]
mod test_support;
mod typing;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use http::StatusCode;
use shared::connections::{ConnectionsClient, Delivery};
use shared::frames::{
    ClientFrame, FrameError, HeartbeatAck, ServerFrame, connection_id, error_frame, route_error, route_response,
};
use shared::store::Store;

/// What `$default` needs, built once per cold start.
#[derive(Debug)]
pub struct State {
    /// The single table.
    pub store: Store,
    /// The `@connections` client every answer goes through.
    pub connections: ConnectionsClient,
}

impl State {
    /// The state from its parts.
    pub fn new(store: Store, connections: ConnectionsClient) -> Self {
        Self { store, connections }
    }
}

/// Handles one client frame: answers the caller through `postToConnection`, then 200.
pub async fn handle(state: &State, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let connection_id = match connection_id(&request) {
        Ok(connection_id) => connection_id,
        Err(error) => return route_error(&error),
    };
    let replies = match parse(&request) {
        Ok(frame) => respond(state, connection_id, frame).await,
        Err(error) => {
            tracing::info!(connection_id, code = error.code(), "refused a client frame");
            vec![error.to_frame()]
        }
    };
    reply(state, connection_id, &replies).await;
    route_response(StatusCode::OK)
}

/// Client frames are JSON text; a binary frame (base64 in the event) is refused like bad JSON.
fn parse(request: &ApiGatewayWebsocketProxyRequest) -> Result<ClientFrame, FrameError> {
    if request.is_base64_encoded {
        return Err(FrameError::InvalidJson);
    }
    ClientFrame::parse(request.body.as_deref().unwrap_or_default())
}

/// The frames that answer the caller (none for `typing`, which answers only on refusal).
async fn respond(state: &State, connection_id: &str, frame: ClientFrame) -> Vec<ServerFrame> {
    let result = match frame {
        ClientFrame::Hello => hello::ready(state, connection_id).await,
        ClientFrame::Heartbeat => Ok(vec![ServerFrame::HeartbeatAck(HeartbeatAck {})]),
        ClientFrame::Typing { channel_id } => typing::typing(state, connection_id, &channel_id)
            .await
            .map(|()| Vec::new()),
    };
    result.unwrap_or_else(|error| vec![error_frame(&error)])
}

/// Sends the answers in order; a caller whose socket is already closed is forgotten.
async fn reply(state: &State, connection_id: &str, frames: &[ServerFrame]) {
    match state.connections.send_all(connection_id, frames).await {
        Ok(Delivery::Delivered) => {}
        Ok(Delivery::Gone) => {
            if let Err(error) = state.store.delete_connection(connection_id).await {
                tracing::warn!(connection_id, error = %error, "deleting a closed connection failed");
            }
        }
        Err(error) => tracing::warn!(connection_id, error = %error, "answering the caller failed"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::test_support::{BAD_JSON, HEARTBEAT, HELLO, TYPING, UNKNOWN_ACTION, event, fixture};
    use serde_json::json;

    #[test]
    fn sample_events_deserialize_into_the_websocket_request_type() {
        for sample in [HELLO, HEARTBEAT, TYPING, UNKNOWN_ACTION, BAD_JSON] {
            let request: ApiGatewayWebsocketProxyRequest = serde_json::from_str(sample).unwrap();
            assert_eq!(request.request_context.route_key.as_deref(), Some("$default"));
            assert!(request.body.is_some());
        }
    }

    #[tokio::test]
    async fn heartbeat_is_answered_with_heartbeat_ack_through_post_to_connection() {
        let fixture = fixture().await;

        let response = handle(&fixture.state, event(HEARTBEAT, "caller", None)).await;

        assert_eq!(response.status_code, 200);
        assert_eq!(response.body, None);
        assert_eq!(
            fixture.endpoint.frames_to("caller"),
            vec![json!({"type": "HEARTBEAT_ACK", "data": {}})]
        );
    }

    #[tokio::test]
    async fn an_unknown_action_gets_an_error_frame_and_still_200() {
        let fixture = fixture().await;

        let response = handle(&fixture.state, event(UNKNOWN_ACTION, "caller", None)).await;

        assert_eq!(response.status_code, 200);
        let frames = fixture.endpoint.frames_to("caller");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["type"], "ERROR");
        assert_eq!(frames[0]["data"]["code"], "unknown_action");
    }

    #[tokio::test]
    async fn bad_json_gets_an_invalid_json_error_frame() {
        let fixture = fixture().await;

        let response = handle(&fixture.state, event(BAD_JSON, "caller", None)).await;

        assert_eq!(response.status_code, 200);
        assert_eq!(fixture.endpoint.frames_to("caller")[0]["data"]["code"], "invalid_json");
    }

    #[tokio::test]
    async fn a_binary_frame_gets_an_invalid_json_error_frame() {
        let fixture = fixture().await;
        let mut request = event(HEARTBEAT, "caller", Some("eyJhY3Rpb24iOiJoZWFydGJlYXQifQ=="));
        request.is_base64_encoded = true;

        handle(&fixture.state, request).await;

        assert_eq!(fixture.endpoint.frames_to("caller")[0]["data"]["code"], "invalid_json");
    }

    #[tokio::test]
    async fn a_caller_whose_socket_already_closed_is_forgotten() {
        let fixture = fixture().await;
        let user_id = shared::testing::user_id();
        let (server, _) = fixture
            .state
            .store
            .create_server(&user_id, "lovelace".to_owned())
            .await
            .unwrap();
        test_support::connect(&fixture.state.store, "closed", &user_id).await;
        fixture.endpoint.answer("closed", 410);

        let response = handle(&fixture.state, event(HEARTBEAT, "closed", None)).await;

        assert_eq!(response.status_code, 200);
        assert!(fixture.state.store.get_connection("closed").await.unwrap().is_none());
        assert!(
            fixture
                .state
                .store
                .subscriptions_of_server(&server.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
