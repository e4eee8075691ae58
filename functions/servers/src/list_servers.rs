//! `GET /servers` → 200 with the caller's servers, oldest first.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use shared::error::ApiError;
use shared::http::{caller_id, json_response};

use crate::State;

pub(crate) async fn handle(
    state: &State,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let servers = state.store.servers_of_user(&caller).await?;
    Ok(json_response(StatusCode::OK, &servers))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{server_owned_by, state};
    use shared::testing::{http_event, status_and_json, user_id};

    const LIST_SERVERS: &str = include_str!("../../../events/servers/list-servers.json");

    #[tokio::test]
    async fn lists_only_my_servers() {
        let state = state().await;
        let (me, someone_else) = (user_id(), user_id());
        let mine = server_owned_by(&state, &me).await;
        server_owned_by(&state, &someone_else).await;

        let (status, body) = status_and_json(&crate::handle(&state, http_event(LIST_SERVERS, &me, &[], None)).await);

        assert_eq!(status, 200);
        let ids: Vec<_> = body.as_array().into_iter().flatten().map(|s| s["id"].clone()).collect();
        assert_eq!(ids, vec![mine["id"].clone()]);
    }
}
