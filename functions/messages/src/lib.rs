//! `messages`: `GET /channels/{channelId}/messages?limit&before&after` (history).
//!
//! A bare JSON array, newest first. `limit` 1–100 (default 50). `before` or `after` (mutually
//! exclusive) take a message id and exclude it; `after` returns the messages immediately after
//! it (catch-up pages forward). Members only (403), unknown channel 404, bad limit/id/cursor or
//! more than one cursor 400.
//!
//! Access pattern: `CHANNEL#id/META` → `SERVER#sid/MEMBER#me` (base table), then one query
//! `PK = CHANNEL#id AND SK BETWEEN MSG#… AND MSG#…` (bounded on both ends).
//! Environment: `TABLE_NAME`.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use shared::access::channel_member;
use shared::domain::parse_limit;
use shared::error::ApiError;
use shared::http::{caller_id, json_response, path_id, query_param, render};
use shared::ids::is_ulid;
use shared::store::Store;

/// What the function keeps between invocations.
#[derive(Debug, Clone)]
pub struct State {
    /// The single table.
    pub store: Store,
}

/// Handles one request; every outcome is an HTTP response.
pub async fn handle(state: &State, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    render(history(state, &request).await)
}

fn cursor<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Result<Option<&'a str>, ApiError> {
    match query_param(request, name)? {
        Some(id) if !is_ulid(id) => Err(ApiError::bad_request(
            "invalid_cursor",
            format!("{name} must be a message id"),
        )),
        other => Ok(other),
    }
}

async fn history(state: &State, request: &ApiGatewayV2httpRequest) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let channel_id = path_id(request, "channelId")?;
    let limit = parse_limit(query_param(request, "limit")?)?;
    let before = cursor(request, "before")?;
    let after = cursor(request, "after")?;
    let around = cursor(request, "around")?;
    if [before, after, around].iter().filter(|cursor| cursor.is_some()).count() > 1 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "before, after and around are mutually exclusive",
        ));
    }
    if around.is_some() {
        return Err(ApiError::bad_request(
            "unsupported_query",
            "around is not supported yet; use before or after",
        ));
    }
    let (channel, _membership) = channel_member(&state.store, channel_id, &caller).await?;
    let messages = state.store.list_messages(&channel.id, after, before, limit).await?;
    Ok(json_response(StatusCode::OK, &messages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::{Channel, Message};
    use shared::testing::{fresh_store, http_event, status_and_json, user_id, with_query};

    const LIST_MESSAGES: &str = include_str!("../../../events/messages/list-messages.json");

    async fn channel_with_messages(count: usize) -> (State, String, Channel, Vec<String>) {
        let state = State {
            store: fresh_store().await,
        };
        let owner = user_id();
        let (_server, general) = state
            .store
            .create_server(&owner, "History".to_owned())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut ids = Vec::new();
        for index in 0..count {
            let message = Message {
                id: shared::ids::new_id(),
                channel_id: general.id.clone(),
                server_id: general.server_id.clone(),
                author_id: owner.clone(),
                content: format!("message {index}"),
                created_at: shared::clock::now_rfc3339(),
                edited_at: None,
            };
            ids.push(message.id.clone());
            assert!(state.store.post_message(message, None).await.is_ok());
        }
        (state, owner, general, ids)
    }

    async fn get(state: &State, user: &str, channel_id: &str, query: &[(&str, &str)]) -> (i64, serde_json::Value) {
        let request = with_query(
            http_event(LIST_MESSAGES, user, &[("channelId", channel_id)], None),
            query,
        );
        status_and_json(&handle(state, request).await)
    }

    fn ids_of(body: &serde_json::Value) -> Vec<String> {
        body.as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect()
    }

    #[tokio::test]
    async fn returns_newest_first_with_default_and_explicit_limits() {
        let (state, owner, general, ids) = channel_with_messages(5).await;
        let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

        let (status, body) = get(&state, &owner, &general.id, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(ids_of(&body), newest_first);

        let (_, body) = get(&state, &owner, &general.id, &[("limit", "2")]).await;
        assert_eq!(ids_of(&body), newest_first[..2]);
    }

    #[tokio::test]
    async fn pages_backward_with_before_and_forward_with_after() {
        let (state, owner, general, ids) = channel_with_messages(6).await;

        let (_, body) = get(&state, &owner, &general.id, &[("before", &ids[4]), ("limit", "2")]).await;
        assert_eq!(ids_of(&body), vec![ids[3].clone(), ids[2].clone()]);

        let (_, body) = get(&state, &owner, &general.id, &[("after", &ids[1]), ("limit", "2")]).await;
        assert_eq!(ids_of(&body), vec![ids[3].clone(), ids[2].clone()]);

        let (_, body) = get(&state, &owner, &general.id, &[("after", &ids[5])]).await;
        assert_eq!(ids_of(&body), Vec::<String>::new());
    }

    #[tokio::test]
    async fn bad_limits_cursors_and_ids_are_400() {
        let (state, owner, general, ids) = channel_with_messages(1).await;
        let cases: [&[(&str, &str)]; 8] = [
            &[("after", &ids[0]), ("before", &ids[0])],
            &[("before", &ids[0]), ("around", &ids[0])],
            &[("limit", "0")],
            &[("limit", "101")],
            &[("limit", "abc")],
            &[("before", "nope")],
            &[("after", "01jea6b3c4d5e6f7g8h9j0k1m2")],
            &[("around", "01JEA6B3C4D5E6F7G8H9J0K1M2")],
        ];
        for query in cases {
            let (status, body) = get(&state, &owner, &general.id, query).await;
            assert_eq!(status, 400, "{query:?}: {body}");
            assert!(body["error"]["code"].is_string());
        }
        assert_eq!(get(&state, &owner, "not-a-channel", &[]).await.0, 400);
    }

    #[tokio::test]
    async fn strangers_get_403_and_unknown_channels_404() {
        let (state, owner, general, _) = channel_with_messages(1).await;

        let (status, body) = get(&state, &user_id(), &general.id, &[]).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
        assert_eq!(get(&state, &owner, &shared::ids::new_id(), &[]).await.0, 404);
    }

    #[tokio::test]
    async fn the_sample_event_parses_and_is_answered() {
        let (state, _owner, _general, _) = channel_with_messages(0).await;
        let request: ApiGatewayV2httpRequest = serde_json::from_str(LIST_MESSAGES).unwrap_or_default();
        assert_eq!(request.query_string_parameters.first("limit"), Some("50"));
        // The sample's channel does not exist in a fresh table.
        assert_eq!(status_and_json(&handle(&state, request).await).0, 404);
    }
}
