//! Shared test fixtures: sample events, a fresh table and a fake `@connections` endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde_json::{Value, json};
use shared::connections::testing::FakeEndpoint;
use shared::model::Connection;
use shared::store::Store;

use crate::State;

pub const HELLO: &str = include_str!("../../../events/ws-default/hello.json");
pub const HEARTBEAT: &str = include_str!("../../../events/ws-default/heartbeat.json");
pub const TYPING: &str = include_str!("../../../events/ws-default/typing.json");
pub const UNKNOWN_ACTION: &str = include_str!("../../../events/ws-default/unknown-action.json");
pub const BAD_JSON: &str = include_str!("../../../events/ws-default/bad-json.json");

pub struct Fixture {
    pub state: State,
    pub endpoint: FakeEndpoint,
}

/// A fresh table and a fake `@connections` endpoint (the stage path kept, as API Gateway shows it).
pub async fn fixture() -> Fixture {
    let endpoint = FakeEndpoint::start().await;
    let state = State::new(shared::testing::fresh_store().await, endpoint.client(Some("dev")));
    Fixture { state, endpoint }
}

/// A sample event from `connection_id`, with its body replaced if given.
pub fn event(sample: &str, connection_id: &str, body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut event: Value = serde_json::from_str(sample).unwrap();
    event["requestContext"]["connectionId"] = json!(connection_id);
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    serde_json::from_value(event).unwrap()
}

/// Stores a connection of `user_id` (subscribed to their servers), as `$connect` does.
pub async fn connect(store: &Store, connection_id: &str, user_id: &str) {
    let connection = Connection {
        connection_id: connection_id.to_owned(),
        user_id: user_id.to_owned(),
        connected_at: shared::clock::now_rfc3339(),
    };
    store.put_connection(&connection).await.unwrap();
}
