//! `POST /servers/{serverId}/channels` `{name, kind}` → 201 with the channel (owner and admins).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use serde::Deserialize;
use shared::access::server_member;
use shared::domain::validate_name;
use shared::error::ApiError;
use shared::http::{caller_id, json_body, json_response, path_id};
use shared::model::ChannelKind;

use crate::State;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateChannel {
    name: String,
    kind: String,
}

fn parse_kind(kind: &str) -> Result<ChannelKind, ApiError> {
    match kind {
        "text" => Ok(ChannelKind::Text),
        "video" => Ok(ChannelKind::Video),
        _ => Err(ApiError::unprocessable(
            "invalid_channel_kind",
            "kind must be \"text\" or \"video\"",
        )),
    }
}

pub(crate) async fn handle(
    state: &State,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let server_id = path_id(request, "serverId")?;
    let input: CreateChannel = json_body(request)?;
    let (_server, membership) = server_member(&state.store, server_id, &caller).await?;
    if !membership.role.can_manage() {
        return Err(ApiError::Forbidden(
            "only the owner and admins can create channels".to_owned(),
        ));
    }
    let name = validate_name("name", &input.name)?;
    let kind = parse_kind(&input.kind)?;
    let channel = state.store.create_channel(server_id, name, kind).await?;
    Ok(json_response(StatusCode::CREATED, &channel))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{server_owned_by, state};
    use shared::testing::{http_event, status_and_json, user_id};

    const CREATE_CHANNEL: &str = include_str!("../../../events/servers/create-channel.json");

    #[tokio::test]
    async fn owner_creates_text_and_video_channels() {
        let state = state().await;
        let owner = user_id();
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();

        for kind in ["text", "video"] {
            let body = format!(r#"{{"name":"room-{kind}","kind":"{kind}"}}"#);
            let response = crate::handle(
                &state,
                http_event(CREATE_CHANNEL, &owner, &[("serverId", id)], Some(&body)),
            )
            .await;
            let (status, json) = status_and_json(&response);
            assert_eq!(status, 201, "{json}");
            assert_eq!(
                (json["kind"].as_str(), json["serverId"].as_str()),
                (Some(kind), Some(id))
            );
        }
        assert_eq!(state.store.channels_of_server(id).await.unwrap_or_default().len(), 3);
    }

    #[tokio::test]
    async fn refuses_non_members_plain_members_and_bad_kinds() {
        let state = state().await;
        let (owner, stranger, member) = (user_id(), user_id(), user_id());
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();
        let invite = state
            .store
            .create_invite(id, &owner, None, 3600)
            .await
            .ok()
            .map(|i| i.code)
            .unwrap_or_default();
        assert!(state.store.join_with_invite(&invite, &member).await.is_ok());

        let cases = [
            (&stranger, r#"{"name":"x","kind":"text"}"#, 403),
            (&member, r#"{"name":"x","kind":"text"}"#, 403),
            (&owner, r#"{"name":"x","kind":"voice"}"#, 422),
            (&owner, r#"{"name":"","kind":"text"}"#, 422),
            (&owner, r#"{"name":"x"}"#, 400),
        ];
        for (caller, body, expected) in cases {
            let response = crate::handle(
                &state,
                http_event(CREATE_CHANNEL, caller, &[("serverId", id)], Some(body)),
            )
            .await;
            assert_eq!(status_and_json(&response).0, expected, "{body}");
        }
        assert_eq!(state.store.channels_of_server(id).await.unwrap_or_default().len(), 1);
    }
}
