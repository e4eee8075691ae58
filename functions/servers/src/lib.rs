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

use std::future::Future;
use std::pin::Pin;

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

/// A route's future, boxed: seven routes' AWS SDK futures nested in one state machine overflow
/// rustc's layout depth limit in clean builds.
type RouteFuture<'a> = Pin<Box<dyn Future<Output = Result<ApiGatewayV2httpResponse, ApiError>> + Send + 'a>>;

/// Dispatches on the route key; every outcome is an HTTP response.
pub async fn handle(state: &State, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let route = request.route_key.clone().unwrap_or_default();
    let future: RouteFuture<'_> = match route.as_str() {
        "POST /servers" => Box::pin(create_server::handle(state, &request)),
        "GET /servers" => Box::pin(list_servers::handle(state, &request)),
        "GET /servers/{serverId}" => Box::pin(get_server::handle(state, &request)),
        "POST /servers/{serverId}/channels" => Box::pin(create_channel::handle(state, &request)),
        "GET /servers/{serverId}/channels" => Box::pin(list_channels::handle(state, &request)),
        "POST /servers/{serverId}/invites" => Box::pin(create_invite::handle(state, &request)),
        "POST /invites/{code}" => Box::pin(join_invite::handle(state, &request)),
        _ => Box::pin(std::future::ready(Err(ApiError::NotFound(format!("no route {route}"))))),
    };
    render(future.await)
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
