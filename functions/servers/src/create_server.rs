//! `POST /servers` `{name}` → 201 with the server. The caller becomes its owner and first
//! member, and it starts with a "general" text channel.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use serde::Deserialize;
use shared::domain::validate_name;
use shared::error::ApiError;
use shared::http::{caller_id, json_body, json_response};

use crate::State;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateServer {
    name: String,
}

pub(crate) async fn handle(
    state: &State,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let input: CreateServer = json_body(request)?;
    let name = validate_name("name", &input.name)?;
    let (server, _general) = state.store.create_server(&caller, name).await?;
    Ok(json_response(StatusCode::CREATED, &server))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{CREATE_SERVER, state};
    use shared::testing::{http_event, status_and_json, user_id};

    #[tokio::test]
    async fn creates_server_with_owner_and_general_channel() {
        let state = state().await;
        let owner = user_id();

        let response = crate::handle(
            &state,
            http_event(CREATE_SERVER, &owner, &[], Some(r#"{"name":"  Rustaceans "}"#)),
        )
        .await;

        let (status, body) = status_and_json(&response);
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["name"], "Rustaceans");
        assert_eq!(body["ownerId"], owner.as_str());
        let server_id = body["id"].as_str().unwrap_or_default();
        let member = state
            .store
            .get_member(server_id, &owner)
            .await
            .ok()
            .flatten()
            .map(|m| m.role);
        assert_eq!(member, Some(shared::model::Role::Owner));
        let channels = state.store.channels_of_server(server_id).await.unwrap_or_default();
        assert_eq!(
            channels.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["general"]
        );
    }

    #[tokio::test]
    async fn rejects_bad_bodies_and_stores_nothing() {
        let state = state().await;
        let owner = user_id();
        let cases = [
            ("{\"name\":", 400, "invalid_json"),
            ("{}", 400, "invalid_body"),
            ("{\"name\":42}", 400, "invalid_body"),
            ("{\"name\":\"x\",\"extra\":1}", 400, "invalid_body"),
            ("{\"name\":\"   \"}", 422, "name_empty"),
        ];
        for (body, expected_status, expected_code) in cases {
            let response = crate::handle(&state, http_event(CREATE_SERVER, &owner, &[], Some(body))).await;
            let (status, json) = status_and_json(&response);
            assert_eq!(
                (status, json["error"]["code"].as_str()),
                (expected_status, Some(expected_code)),
                "{body}"
            );
        }
        let long_name = format!("{{\"name\":\"{}\"}}", "n".repeat(101));
        let (status, _) =
            status_and_json(&crate::handle(&state, http_event(CREATE_SERVER, &owner, &[], Some(&long_name))).await);
        assert_eq!(status, 422);
        assert!(state.store.servers_of_user(&owner).await.unwrap_or_default().is_empty());
    }

    #[tokio::test]
    async fn sample_event_creates_a_server() {
        let state = state().await;
        let request: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_str(CREATE_SERVER).unwrap_or_default();
        let (status, body) = status_and_json(&crate::handle(&state, request).await);
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["name"], "Ada's server");
    }
}
