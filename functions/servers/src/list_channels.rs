//! `GET /servers/{serverId}/channels` → 200 with the server's channels (members only).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use shared::access::server_member;
use shared::error::ApiError;
use shared::http::{caller_id, json_response, path_id};

use crate::State;

pub(crate) async fn handle(
    state: &State,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let server_id = path_id(request, "serverId")?;
    server_member(&state.store, server_id, &caller).await?;
    let channels = state.store.channels_of_server(server_id).await?;
    Ok(json_response(StatusCode::OK, &channels))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{server_owned_by, state};
    use shared::testing::{http_event, status_and_json, user_id};

    const LIST_CHANNELS: &str = include_str!("../../../events/servers/list-channels.json");

    #[tokio::test]
    async fn members_list_channels_strangers_get_403() {
        let state = state().await;
        let (owner, stranger) = (user_id(), user_id());
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();

        let (status, body) =
            status_and_json(&crate::handle(&state, http_event(LIST_CHANNELS, &owner, &[("serverId", id)], None)).await);
        assert_eq!(status, 200);
        assert_eq!(body[0]["name"], "general");
        assert_eq!(body[0]["kind"], "text");

        let (status, body) = status_and_json(
            &crate::handle(&state, http_event(LIST_CHANNELS, &stranger, &[("serverId", id)], None)).await,
        );
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    }
}
