//! `POST /servers/{serverId}/invites` `{maxUses?, maxAgeSeconds?}` (body optional) → 201 with
//! the invite. Any member may invite. Defaults: 7 days, unlimited uses.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use serde::Deserialize;
use shared::access::server_member;
use shared::domain::INVITE_TTL_SECONDS;
use shared::error::ApiError;
use shared::http::{caller_id, json_body, json_response, path_id};

use crate::State;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateInvite {
    max_uses: Option<u32>,
    max_age_seconds: Option<i64>,
}

const MAX_USES_LIMIT: u32 = 1000;

fn validate(input: &CreateInvite) -> Result<(Option<u32>, i64), ApiError> {
    if input.max_uses.is_some_and(|uses| !(1..=MAX_USES_LIMIT).contains(&uses)) {
        return Err(ApiError::unprocessable(
            "invalid_max_uses",
            format!("maxUses must be from 1 to {MAX_USES_LIMIT}"),
        ));
    }
    let age = input.max_age_seconds.unwrap_or(INVITE_TTL_SECONDS);
    if !(60..=INVITE_TTL_SECONDS).contains(&age) {
        return Err(ApiError::unprocessable(
            "invalid_max_age",
            format!("maxAgeSeconds must be from 60 to {INVITE_TTL_SECONDS}"),
        ));
    }
    Ok((input.max_uses, age))
}

pub(crate) async fn handle(
    state: &State,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let server_id = path_id(request, "serverId")?;
    let has_body = request.body.as_deref().is_some_and(|body| !body.trim().is_empty());
    let input: CreateInvite = if has_body {
        json_body(request)?
    } else {
        CreateInvite::default()
    };
    let (max_uses, max_age) = validate(&input)?;
    server_member(&state.store, server_id, &caller).await?;
    let invite = state.store.create_invite(server_id, &caller, max_uses, max_age).await?;
    Ok(json_response(StatusCode::CREATED, &invite))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{server_owned_by, state};
    use shared::testing::{http_event, status_and_json, user_id};

    const CREATE_INVITE: &str = include_str!("../../../events/servers/create-invite.json");

    #[tokio::test]
    async fn members_create_invites_with_defaults_and_limits() {
        let state = state().await;
        let owner = user_id();
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();

        let (status, body) = status_and_json(
            &crate::handle(&state, http_event(CREATE_INVITE, &owner, &[("serverId", id)], Some(""))).await,
        );
        assert_eq!(status, 201, "{body}");
        assert!(shared::ids::is_invite_code(body["code"].as_str().unwrap_or_default()));
        assert_eq!((body["serverId"].as_str(), body["uses"].as_u64()), (Some(id), Some(0)));
        assert!(body.get("maxUses").is_none());

        let (status, body) =
            status_and_json(&crate::handle(&state, http_event(CREATE_INVITE, &owner, &[("serverId", id)], None)).await);
        assert_eq!((status, body["maxUses"].as_u64()), (201, Some(5)));
    }

    #[tokio::test]
    async fn strangers_cannot_invite_and_bad_limits_are_refused() {
        let state = state().await;
        let (owner, stranger) = (user_id(), user_id());
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();
        let cases = [
            (&stranger, "{}", 403),
            (&owner, r#"{"maxUses":0}"#, 422),
            (&owner, r#"{"maxAgeSeconds":1}"#, 422),
            (&owner, r#"{"maxUses":"many"}"#, 400),
            (&owner, "{", 400),
        ];
        for (caller, body, expected) in cases {
            let response = crate::handle(
                &state,
                http_event(CREATE_INVITE, caller, &[("serverId", id)], Some(body)),
            )
            .await;
            assert_eq!(status_and_json(&response).0, expected, "{body}");
        }
    }
}
