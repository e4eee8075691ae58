//! `{"action":"hello"}` → `READY` (and `READY_CONTINUE` pages when it would not fit in one frame).
//!
//! Access pattern: `CONN#<connectionId>` / `CONN` (the caller's user), `USER#<userId>` /
//! `PROFILE`, the user's memberships (GSI1 `USER#<userId>` / `SERVER#...`) and their servers
//! (batch get), the connection's `SUB#` items re-put for those servers, then each server's channels (GSI1 `SERVER#<serverId>` / `CHANNEL#...`), at most
//! [`CHANNEL_QUERIES_IN_FLIGHT`] queries at a time.

use futures::{StreamExt as _, TryStreamExt as _};
use shared::error::ApiError;
use shared::frames::{READY_BUDGET_BYTES, ServerFrame, ready_frames};
use shared::model::Channel;

use crate::State;

/// How many channel queries one `hello` runs at once.
const CHANNEL_QUERIES_IN_FLIGHT: usize = 8;

/// The `READY` frames for the caller's connection; 401 if the connection is not registered.
pub(crate) async fn ready(state: &State, connection_id: &str) -> Result<Vec<ServerFrame>, ApiError> {
    let connection = state
        .store
        .get_connection(connection_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let user_id = connection.user_id.clone();
    let (profile, servers) =
        tokio::try_join!(state.store.get_profile(&user_id), state.store.servers_of_user(&user_id))?;
    // Owned ids: a stream closure taking a reference trips rustc's higher-ranked lifetime
    // inference when the future must be `Send` (rust-lang/rust#100013).
    let server_ids: Vec<String> = servers.iter().map(|server| server.id.clone()).collect();
    // READY lists these servers, so this socket must receive their events: re-subscribe it in
    // case a join raced its `$connect` (each read the other's GSI1 entry before it landed).
    state.store.subscribe_connection(&connection, &server_ids).await?;
    let channels: Vec<Vec<Channel>> = futures::stream::iter(server_ids)
        .map(|server_id: String| async move { state.store.channels_of_server(&server_id).await })
        .buffered(CHANNEL_QUERIES_IN_FLIGHT)
        .try_collect()
        .await?;
    let channels: Vec<Channel> = channels.into_iter().flatten().collect();
    tracing::info!(connection_id, user_id = %user_id, servers = servers.len(), channels = channels.len(), "ready");
    Ok(ready_frames(&user_id, profile, servers, channels, READY_BUDGET_BYTES))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::handle;
    use crate::test_support::{HELLO, connect, event, fixture};
    use serde_json::Value;
    use shared::model::{ChannelKind, Profile};

    #[tokio::test]
    async fn hello_sends_ready_with_the_profile_servers_and_channels_to_the_caller() {
        let fixture = fixture().await;
        let store = &fixture.state.store;
        let user_id = shared::testing::user_id();
        let profile = Profile {
            id: user_id.clone(),
            handle: "ada".to_owned(),
            created_at: shared::clock::now_rfc3339(),
        };
        store.create_profile(&profile).await.unwrap();
        let (server, general) = store.create_server(&user_id, "lovelace".to_owned()).await.unwrap();
        let video = store
            .create_channel(&server.id, "standup".to_owned(), ChannelKind::Video)
            .await
            .unwrap();
        let (elsewhere, _) = store
            .create_server(&shared::testing::user_id(), "babbage".to_owned())
            .await
            .unwrap();
        connect(store, "caller", &user_id).await;

        let response = handle(&fixture.state, event(HELLO, "caller", None)).await;

        assert_eq!(response.status_code, 200);
        let frames = fixture.endpoint.frames_to("caller");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["type"], "READY");
        let ready = &frames[0]["data"];
        assert_eq!(ready["userId"], user_id.as_str());
        assert_eq!(ready["user"]["handle"], "ada");
        assert_eq!(ready["partial"], false);
        let ids = |list: &Value| {
            list.as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&ready["servers"]), vec![server.id.clone()]);
        assert_eq!(ids(&ready["channels"]), vec![general.id, video.id]);
        assert!(!ids(&ready["servers"]).contains(&elsewhere.id));
        assert_eq!(fixture.endpoint.posts()[0].stage.as_deref(), Some("dev"));
    }

    #[tokio::test]
    async fn hello_before_a_profile_exists_sends_ready_with_a_null_user() {
        let fixture = fixture().await;
        let user_id = shared::testing::user_id();
        connect(&fixture.state.store, "caller", &user_id).await;

        handle(&fixture.state, event(HELLO, "caller", None)).await;

        let frames = fixture.endpoint.frames_to("caller");
        assert_eq!(frames[0]["type"], "READY");
        assert_eq!(frames[0]["data"]["user"], Value::Null);
        assert_eq!(frames[0]["data"]["servers"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn hello_from_an_unregistered_connection_gets_an_unauthorized_error_frame() {
        let fixture = fixture().await;

        let response = handle(&fixture.state, event(HELLO, "stranger", None)).await;

        assert_eq!(response.status_code, 200);
        let frames = fixture.endpoint.frames_to("stranger");
        assert_eq!(frames[0]["type"], "ERROR");
        assert_eq!(frames[0]["data"]["code"], "unauthorized");
    }
}
