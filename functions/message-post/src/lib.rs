//! `message-post`: `POST /channels/{channelId}/messages` `{content, nonce?}`.
//!
//! → 201 with the message; a repeated nonce from the same author → 200 with the first message.
//! Members of the channel's server only (403), unknown channel 404, content 1–4000 characters
//! (422), body over 64 KB 413. Persisting is all it does: `ws-broadcast` fans the new item out
//! from the table's stream.
//!
//! Access pattern: `CHANNEL#id/META` → `SERVER#sid/MEMBER#me` (base table), then a transaction
//! of `NONCE#…` + `CHANNEL#id/MSG#ulid` (or a conditional put without a nonce).
//! Environment: `TABLE_NAME`.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use http::StatusCode;
use serde::Deserialize;
use shared::access::channel_member;
use shared::domain::{validate_content, validate_nonce};
use shared::error::ApiError;
use shared::http::{caller_id, json_body, json_response, path_id, render};
use shared::model::{ChannelKind, Message};
use shared::store::{PostOutcome, Store};

/// What the function keeps between invocations.
#[derive(Debug, Clone)]
pub struct State {
    /// The single table.
    pub store: Store,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostMessage {
    content: String,
    nonce: Option<String>,
}

/// Handles one request; every outcome is an HTTP response.
pub async fn handle(state: &State, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    render(post(state, &request).await)
}

async fn post(state: &State, request: &ApiGatewayV2httpRequest) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller_id(request)?;
    let channel_id = path_id(request, "channelId")?;
    let input: PostMessage = json_body(request)?;
    if let Some(nonce) = &input.nonce {
        validate_nonce(nonce)?;
    }
    let (channel, _membership) = channel_member(&state.store, channel_id, &caller).await?;
    if channel.kind != ChannelKind::Text {
        return Err(ApiError::unprocessable(
            "not_a_text_channel",
            "messages can only be posted in text channels",
        ));
    }
    validate_content(&input.content)?;
    let message = Message {
        id: shared::ids::new_id(),
        channel_id: channel.id,
        server_id: channel.server_id,
        author_id: caller,
        content: input.content,
        created_at: shared::clock::now_rfc3339(),
        edited_at: None,
    };
    match state.store.post_message(message, input.nonce.as_deref()).await? {
        PostOutcome::Created(message) => Ok(json_response(StatusCode::CREATED, &message)),
        PostOutcome::Duplicate(first) => Ok(json_response(StatusCode::OK, &first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::Channel;
    use shared::testing::{fresh_store, http_event, status_and_json, user_id};

    const POST_MESSAGE: &str = include_str!("../../../events/message-post/post-message.json");

    struct World {
        state: State,
        owner: String,
        general: Channel,
    }

    async fn world() -> World {
        let state = State {
            store: fresh_store().await,
        };
        let owner = user_id();
        let (_server, general) = state
            .store
            .create_server(&owner, "Test".to_owned())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        World { state, owner, general }
    }

    async fn post_as(world: &World, user: &str, channel_id: &str, body: &str) -> (i64, serde_json::Value) {
        let request = http_event(POST_MESSAGE, user, &[("channelId", channel_id)], Some(body));
        status_and_json(&handle(&world.state, request).await)
    }

    async fn history_len(world: &World) -> usize {
        world
            .state
            .store
            .list_messages(&world.general.id, None, None, 100)
            .await
            .unwrap_or_default()
            .len()
    }

    #[tokio::test]
    async fn member_posts_a_message() {
        let world = world().await;

        let (status, body) = post_as(&world, &world.owner, &world.general.id, r#"{"content":"hello"}"#).await;

        assert_eq!(status, 201, "{body}");
        assert_eq!(body["content"], "hello");
        assert_eq!(body["channelId"], world.general.id.as_str());
        assert_eq!(body["serverId"], world.general.server_id.as_str());
        assert_eq!(body["authorId"], world.owner.as_str());
        assert!(shared::ids::is_ulid(body["id"].as_str().unwrap_or_default()));
        assert!(body["createdAt"].is_string());
        assert_eq!(history_len(&world).await, 1);
    }

    #[tokio::test]
    async fn repeated_nonce_returns_the_first_message_with_200() {
        let world = world().await;
        let (first_status, first) = post_as(
            &world,
            &world.owner,
            &world.general.id,
            r#"{"content":"once","nonce":"n-1"}"#,
        )
        .await;
        let (again_status, again) = post_as(
            &world,
            &world.owner,
            &world.general.id,
            r#"{"content":"twice?","nonce":"n-1"}"#,
        )
        .await;

        assert_eq!((first_status, again_status), (201, 200));
        assert_eq!(again, first);
        assert_eq!(history_len(&world).await, 1);
    }

    #[tokio::test]
    async fn an_expired_nonce_that_is_not_yet_deleted_no_longer_deduplicates() {
        let world = world().await;
        let (_, first) = post_as(
            &world,
            &world.owner,
            &world.general.id,
            r#"{"content":"old","nonce":"n-2"}"#,
        )
        .await;
        expire_nonce(&world, "n-2").await;

        let (status, again) = post_as(
            &world,
            &world.owner,
            &world.general.id,
            r#"{"content":"new","nonce":"n-2"}"#,
        )
        .await;

        assert_eq!(status, 201, "{again}");
        assert_ne!(again["id"], first["id"]);
        assert_eq!(history_len(&world).await, 2);
    }

    /// Backdates a nonce's TTL the way an item past its TTL looks before DynamoDB deletes it.
    async fn expire_nonce(world: &World, nonce: &str) {
        use aws_sdk_dynamodb::types::AttributeValue;
        let key = shared::keys::message_nonce(&world.general.id, &world.owner, nonce);
        let client = shared::testing::dynamodb_client(&shared::testing::endpoint());
        let updated = client
            .update_item()
            .table_name(world.state.store.table_name())
            .key("PK", AttributeValue::S(key.pk))
            .key("SK", AttributeValue::S(key.sk))
            .update_expression("SET expiresAt = :past")
            .expression_attribute_values(":past", AttributeValue::N("1".to_owned()))
            .send()
            .await;
        assert!(updated.is_ok(), "{updated:?}");
    }

    #[tokio::test]
    async fn the_same_nonce_from_another_author_is_a_new_message() {
        let world = world().await;
        let guest = user_id();
        let code = world
            .state
            .store
            .create_invite(&world.general.server_id, &world.owner, None, 600)
            .await
            .map(|i| i.code)
            .unwrap_or_default();
        assert!(world.state.store.join_with_invite(&code, &guest).await.is_ok());

        let (owner_status, _) = post_as(
            &world,
            &world.owner,
            &world.general.id,
            r#"{"content":"a","nonce":"same"}"#,
        )
        .await;
        let (guest_status, _) = post_as(&world, &guest, &world.general.id, r#"{"content":"b","nonce":"same"}"#).await;

        assert_eq!((owner_status, guest_status), (201, 201));
        assert_eq!(history_len(&world).await, 2);
    }

    #[tokio::test]
    async fn bad_input_gets_a_clear_error_and_stores_nothing() {
        let world = world().await;
        let too_long = format!(r#"{{"content":"{}"}}"#, "x".repeat(4001));
        let oversize = format!(r#"{{"content":"{}"}}"#, "x".repeat(70_000));
        let cases = [
            (r#"{"content":"#.to_owned(), 400, "invalid_json"),
            (r"{}".to_owned(), 400, "invalid_body"),
            (
                r#"{"content":"hi","nonce":"has space"}"#.to_owned(),
                400,
                "invalid_nonce",
            ),
            (r#"{"content":"   "}"#.to_owned(), 422, "content_empty"),
            (r#"{"content":""}"#.to_owned(), 422, "content_empty"),
            (too_long, 422, "content_too_long"),
            (oversize, 413, "payload_too_large"),
        ];
        for (body, expected_status, expected_code) in cases {
            let (status, json) = post_as(&world, &world.owner, &world.general.id, &body).await;
            assert_eq!(
                (status, json["error"]["code"].as_str()),
                (expected_status, Some(expected_code)),
                "{body:.60}"
            );
        }
        assert_eq!(history_len(&world).await, 0);
    }

    #[tokio::test]
    async fn strangers_get_403_unknown_channels_404_bad_ids_400() {
        let world = world().await;
        let body = r#"{"content":"let me in"}"#;

        assert_eq!(post_as(&world, &user_id(), &world.general.id, body).await.0, 403);
        assert_eq!(post_as(&world, &world.owner, &shared::ids::new_id(), body).await.0, 404);
        assert_eq!(post_as(&world, &world.owner, "CHANNEL#x", body).await.0, 400);
        assert_eq!(history_len(&world).await, 0);
    }

    #[tokio::test]
    async fn video_channels_take_no_messages() {
        let world = world().await;
        let video = world
            .state
            .store
            .create_channel(&world.general.server_id, "standup".to_owned(), ChannelKind::Video)
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let (status, body) = post_as(&world, &world.owner, &video.id, r#"{"content":"hi"}"#).await;

        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("not_a_text_channel"))
        );
    }
}
