//! `GET /servers/{serverId}` → 200 with the server, for members only.

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
    let (server, _membership) = server_member(&state.store, server_id, &caller).await?;
    Ok(json_response(StatusCode::OK, &server))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{server_owned_by, state};
    use shared::testing::{http_event, status_and_json, user_id};

    const GET_SERVER: &str = include_str!("../../../events/servers/get-server.json");

    #[tokio::test]
    async fn members_see_the_server_others_get_403_unknown_404_bad_id_400() {
        let state = state().await;
        let (owner, stranger) = (user_id(), user_id());
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();
        let unknown = shared::ids::new_id();

        let cases = [
            (&owner, id, 200),
            (&stranger, id, 403),
            (&owner, unknown.as_str(), 404),
            (&owner, "not-an-id", 400),
        ];
        for (caller, server_id, expected) in cases {
            let response =
                crate::handle(&state, http_event(GET_SERVER, caller, &[("serverId", server_id)], None)).await;
            let (status, body) = status_and_json(&response);
            assert_eq!(status, expected, "{server_id}: {body}");
            if expected == 200 {
                assert_eq!(body, server);
            } else {
                assert!(body["error"]["code"].is_string());
            }
        }
    }
}
