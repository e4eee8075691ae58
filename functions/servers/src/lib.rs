//! `servers`: servers, channels and invites over the HTTP API.
//!
//! | route | who | access pattern |
//! |---|---|---|
//! | `POST /servers` | anyone signed in | transaction: server META + owner MEMBER + "general" channel |
//! | `GET /servers` | anyone signed in | GSI1 `USER#me` / `SERVER#…`, then batch get |
//! | `GET /servers/{serverId}` | members | base table META + MEMBER |
//! | `POST /servers/{serverId}/channels` | owner, admins | put CHANNEL META (GSI1 under the server) |
//! | `GET /servers/{serverId}/channels` | members | GSI1 `SERVER#id` / `CHANNEL#…` |
//! | `POST /servers/{serverId}/invites` | members | put INVITE (TTL, max uses) |
//! | `POST /invites/{code}` | anyone signed in | transaction: invite use + MEMBER; subscribe live sockets |
//!
//! Auth: API Gateway's JWT authorizer; the caller is the verified `sub`.
//! Environment: `TABLE_NAME`.

mod create_channel;
mod create_invite;
mod create_server;
mod get_server;
mod join_invite;
mod list_channels;
mod list_servers;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use shared::error::ApiError;
use shared::http::render;
use shared::store::Store;

/// What the function keeps between invocations.
#[derive(Debug, Clone)]
pub struct State {
    /// The single table.
    pub store: Store,
}

/// Dispatches on the route key; every outcome is an HTTP response.
pub async fn handle(state: &State, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let route = request.route_key.clone().unwrap_or_default();
    render(match route.as_str() {
        "POST /servers" => create_server::handle(state, &request).await,
        "GET /servers" => list_servers::handle(state, &request).await,
        "GET /servers/{serverId}" => get_server::handle(state, &request).await,
        "POST /servers/{serverId}/channels" => create_channel::handle(state, &request).await,
        "GET /servers/{serverId}/channels" => list_channels::handle(state, &request).await,
        "POST /servers/{serverId}/invites" => create_invite::handle(state, &request).await,
        "POST /invites/{code}" => join_invite::handle(state, &request).await,
        _ => Err(ApiError::NotFound(format!("no route {route}"))),
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::State;
    use shared::testing::{fresh_store, http_event, status_and_json};

    pub const CREATE_SERVER: &str = include_str!("../../../events/servers/create-server.json");

    pub async fn state() -> State {
        State {
            store: fresh_store().await,
        }
    }

    /// Creates a server owned by `owner` through the handler; returns its JSON.
    pub async fn server_owned_by(state: &State, owner: &str) -> serde_json::Value {
        let response = super::handle(state, http_event(CREATE_SERVER, owner, &[], Some(r#"{"name":"Test"}"#))).await;
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 201, "{body}");
        body
    }
}
