//! `POST /invites/{code}` → 200 with the server: joins the caller (idempotent for members) and
//! subscribes their live connections to the server's events at once.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use shared::error::ApiError;
use shared::http::{caller_id, json_response, path_param};
use shared::ids::is_invite_code;
use shared::store::JoinOutcome;

use crate::State;

pub(crate) async fn handle(
    state: &State,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let code = path_param(request, "code")?;
    if !is_invite_code(code) {
        return Err(ApiError::bad_request(
            "invalid_invite_code",
            "that is not an invite code",
        ));
    }
    match state.store.join_with_invite(code, &caller).await? {
        JoinOutcome::Joined(server) | JoinOutcome::AlreadyMember(server) => Ok(json_response(StatusCode::OK, &server)),
        JoinOutcome::InviteNotFound => Err(ApiError::NotFound("unknown, expired or used-up invite".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{server_owned_by, state};
    use shared::testing::{http_event, status_and_json, user_id};

    const JOIN_INVITE: &str = include_str!("../../../events/servers/join-invite.json");

    #[tokio::test]
    async fn joining_is_idempotent_and_counts_one_use() {
        let state = state().await;
        let (owner, guest) = (user_id(), user_id());
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();
        let code = state
            .store
            .create_invite(id, &owner, Some(1), 3600)
            .await
            .map(|i| i.code)
            .unwrap_or_default();

        for _ in 0..2 {
            let (status, body) = status_and_json(
                &crate::handle(&state, http_event(JOIN_INVITE, &guest, &[("code", &code)], None)).await,
            );
            assert_eq!((status, body["id"].as_str()), (200, Some(id)), "{body}");
        }
        assert!(state.store.get_member(id, &guest).await.ok().flatten().is_some());
        assert_eq!(
            state.store.get_invite(&code).await.ok().flatten().map(|i| i.uses),
            Some(1)
        );
    }

    #[tokio::test]
    async fn used_up_unknown_and_malformed_codes_are_refused() {
        let state = state().await;
        let (owner, first, second) = (user_id(), user_id(), user_id());
        let server = server_owned_by(&state, &owner).await;
        let id = server["id"].as_str().unwrap_or_default();
        let code = state
            .store
            .create_invite(id, &owner, Some(1), 3600)
            .await
            .map(|i| i.code)
            .unwrap_or_default();
        let join = |user: String, code: String| {
            let state = &state;
            async move {
                status_and_json(&crate::handle(state, http_event(JOIN_INVITE, &user, &[("code", &code)], None)).await).0
            }
        };

        assert_eq!(join(first, code.clone()).await, 200);
        assert_eq!(join(second.clone(), code).await, 404);
        assert_eq!(join(second.clone(), shared::ids::new_invite_code()).await, 404);
        assert_eq!(join(second.clone(), "bad#code".to_owned()).await, 400);
        assert!(state.store.get_member(id, &second).await.ok().flatten().is_none());
    }
}
