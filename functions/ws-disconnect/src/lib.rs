//! `ws-disconnect`: the WebSocket API's `$disconnect` route.
//!
//! - **Route:** `$disconnect` (sent by API Gateway when either side closes the socket, best effort:
//!   a missed one is cleaned up by the 2 h TTL or by the first 410 a fan-out meets).
//! - **Auth:** none needed; the connection id comes from API Gateway.
//! - **Access pattern:** `CONN#<connectionId>` / `CONN` (its user), the user's memberships
//!   (GSI1), then a batch delete of the connection and its `SERVER#<serverId>` / `SUB#<connectionId>`
//!   items. Idempotent: an unknown connection is already gone.
//! - **Env:** `TABLE_NAME`.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use http::StatusCode;
use shared::error::ApiError;
use shared::frames::{connection_id, route_error, route_response};
use shared::store::Store;

/// What `$disconnect` needs, built once per cold start.
#[derive(Debug)]
pub struct State {
    /// The single table.
    pub store: Store,
}

impl State {
    /// The state from its parts.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Handles `$disconnect`: deletes the connection and its subscriptions, 200 (also when it was
/// already gone). API Gateway ignores the answer; a 500 only records the failure in the logs.
pub async fn handle(state: &State, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let connection_id = match connection_id(&request) {
        Ok(connection_id) => connection_id,
        Err(error) => return route_error(&error),
    };
    match state.store.delete_connection(connection_id).await {
        Ok(()) => {
            tracing::info!(
                connection_id,
                status = request.request_context.disconnect_status_code,
                "disconnected"
            );
            route_response(StatusCode::OK)
        }
        Err(error) => route_error(&ApiError::from(error)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use shared::model::Connection;

    const DISCONNECT: &str = include_str!("../../../events/ws-disconnect/disconnect.json");
    const CONNECTION_ID: &str = "TWegAcC4EowCHnA=";

    fn disconnect() -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_str(DISCONNECT).unwrap()
    }

    #[test]
    fn the_sample_event_deserializes_into_the_websocket_request_type() {
        let request = disconnect();
        assert_eq!(request.request_context.route_key.as_deref(), Some("$disconnect"));
        assert_eq!(request.request_context.connection_id.as_deref(), Some(CONNECTION_ID));
    }

    #[tokio::test]
    async fn deletes_the_connection_and_its_subscriptions() {
        let store = shared::testing::fresh_store().await;
        let user_id = shared::testing::user_id();
        let (server, _) = store.create_server(&user_id, "lovelace".to_owned()).await.unwrap();
        let connection = Connection {
            connection_id: CONNECTION_ID.to_owned(),
            user_id,
            connected_at: shared::clock::now_rfc3339(),
        };
        store.put_connection(&connection).await.unwrap();
        let state = State::new(store);

        let response = handle(&state, disconnect()).await;

        assert_eq!(response.status_code, 200);
        assert!(state.store.get_connection(CONNECTION_ID).await.unwrap().is_none());
        assert!(
            state
                .store
                .subscriptions_of_server(&server.id)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn disconnecting_an_unknown_or_already_deleted_connection_is_fine() {
        let state = State::new(shared::testing::fresh_store().await);

        assert_eq!(handle(&state, disconnect()).await.status_code, 200);
        assert_eq!(handle(&state, disconnect()).await.status_code, 200);
    }
}
