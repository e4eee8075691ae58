//! `{"action":"typing","channelId":"..."}` → `TYPING_START` to everyone else subscribed to the
//! channel's server. Ephemeral: nothing is stored, nothing is retried, the typist gets no echo.
//!
//! Access pattern: `CONN#<connectionId>` / `CONN` and `CHANNEL#<channelId>` / `META` (together),
//! then `SERVER#<serverId>` / `MEMBER#<userId>` (authorization on the base table), then the
//! server's subscriptions `SERVER#<serverId>` / `SUB#...`.

use shared::error::ApiError;
use shared::frames::{ServerFrame, TypingStart};

use crate::State;

/// Authorizes the typist and tells the rest of the server; refusals become `ERROR` frames.
pub(crate) async fn typing(state: &State, connection_id: &str, channel_id: &str) -> Result<(), ApiError> {
    if !shared::ids::is_ulid(channel_id) {
        return Err(ApiError::bad_request("invalid_id", "channelId is not a valid id"));
    }
    let (connection, channel) = tokio::try_join!(
        state.store.get_connection(connection_id),
        state.store.get_channel(channel_id)
    )?;
    let connection = connection.ok_or(ApiError::Unauthorized)?;
    let channel = channel.ok_or_else(|| ApiError::NotFound("unknown channel".to_owned()))?;
    if state
        .store
        .get_member(&channel.server_id, &connection.user_id)
        .await?
        .is_none()
    {
        return Err(ApiError::Forbidden(
            "you are not a member of this channel's server".to_owned(),
        ));
    }
    let audience: Vec<_> = state
        .store
        .subscriptions_of_server(&channel.server_id)
        .await?
        .into_iter()
        .filter(|subscription| subscription.connection_id != connection_id)
        .collect();
    let frame = ServerFrame::TypingStart(TypingStart {
        channel_id: channel.id,
        server_id: channel.server_id,
        user_id: connection.user_id,
        timestamp: shared::clock::now_rfc3339(),
    });
    let report = state.connections.fan_out(&state.store, &audience, &frame).await;
    tracing::debug!(
        connection_id,
        delivered = report.delivered.len(),
        gone = report.gone.len(),
        failed = report.failed.len(),
        "typing sent"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::handle;
    use crate::test_support::{TYPING, connect, event, fixture};
    use serde_json::json;

    fn typing_in(channel_id: &str) -> String {
        json!({"action": "typing", "channelId": channel_id}).to_string()
    }

    #[tokio::test]
    async fn typing_reaches_the_servers_other_connections_but_not_the_typist_or_outsiders() {
        let fixture = fixture().await;
        let store = &fixture.state.store;
        let (ada, grace, eve) = (
            shared::testing::user_id(),
            shared::testing::user_id(),
            shared::testing::user_id(),
        );
        let (server, general) = store.create_server(&ada, "lovelace".to_owned()).await.unwrap();
        let invite = store.create_invite(&server.id, &ada, None, 3600).await.unwrap();
        store.join_with_invite(&invite.code, &grace).await.unwrap();
        store.create_server(&eve, "elsewhere".to_owned()).await.unwrap();
        connect(store, "ada-laptop", &ada).await;
        connect(store, "ada-phone", &ada).await;
        connect(store, "grace", &grace).await;
        connect(store, "eve", &eve).await;

        let response = handle(
            &fixture.state,
            event(TYPING, "ada-laptop", Some(&typing_in(&general.id))),
        )
        .await;

        assert_eq!(response.status_code, 200);
        for receiver in ["ada-phone", "grace"] {
            let frames = fixture.endpoint.frames_to(receiver);
            assert_eq!(frames.len(), 1, "{receiver}");
            assert_eq!(frames[0]["type"], "TYPING_START");
            assert_eq!(frames[0]["data"]["channelId"], general.id.as_str());
            assert_eq!(frames[0]["data"]["serverId"], server.id.as_str());
            assert_eq!(frames[0]["data"]["userId"], ada.as_str());
        }
        assert!(fixture.endpoint.frames_to("ada-laptop").is_empty());
        assert!(fixture.endpoint.frames_to("eve").is_empty());
    }

    #[tokio::test]
    async fn typing_in_a_server_the_caller_has_not_joined_is_forbidden_and_reaches_no_one() {
        let fixture = fixture().await;
        let store = &fixture.state.store;
        let (ada, eve) = (shared::testing::user_id(), shared::testing::user_id());
        let (_, general) = store.create_server(&ada, "lovelace".to_owned()).await.unwrap();
        connect(store, "ada", &ada).await;
        connect(store, "eve", &eve).await;

        handle(&fixture.state, event(TYPING, "eve", Some(&typing_in(&general.id)))).await;

        let frames = fixture.endpoint.frames_to("eve");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0]["type"], "ERROR");
        assert_eq!(frames[0]["data"]["code"], "forbidden");
        assert!(fixture.endpoint.frames_to("ada").is_empty());
    }

    #[tokio::test]
    async fn typing_in_an_unknown_or_malformed_channel_gets_an_error_frame() {
        let fixture = fixture().await;
        connect(&fixture.state.store, "caller", &shared::testing::user_id()).await;

        handle(&fixture.state, event(TYPING, "caller", None)).await;
        handle(&fixture.state, event(TYPING, "caller", Some(&typing_in("not-an-id")))).await;

        let codes: Vec<_> = fixture
            .endpoint
            .frames_to("caller")
            .iter()
            .map(|frame| frame["data"]["code"].clone())
            .collect();
        assert_eq!(codes, vec![json!("not_found"), json!("invalid_id")]);
    }
}
