//! `ws-broadcast`: turns the table's stream into WebSocket frames for the people who should see them.
//!
//! - **Trigger:** the DynamoDB stream of the single table (`NEW_AND_OLD_IMAGES`), through an
//!   event source mapping with `ReportBatchItemFailures` (and bisect on error).
//! - **What is broadcast** (keys classified by `shared::keys::classify`, images decoded with
//!   `serde_dynamo` into the model types):
//!
//!   | item | INSERT | MODIFY | REMOVE |
//!   |---|---|---|---|
//!   | message | `MESSAGE_CREATE` | `MESSAGE_UPDATE` | `MESSAGE_DELETE` |
//!   | channel | `CHANNEL_CREATE` | `CHANNEL_UPDATE` | `CHANNEL_DELETE` |
//!   | membership | `MEMBER_JOIN` | — | `MEMBER_LEAVE` |
//!   | server | — | `SERVER_UPDATE` | `SERVER_DELETE` |
//!
//!   Everything else (profiles, connections, subscriptions, nonces, invites) is skipped, and so
//!   is a record whose image does not decode (logged: retrying could never fix it).
//! - **Audience:** the server's subscriptions (`SERVER#<serverId>` / `SUB#...`, base table), posted
//!   concurrently (bounded) by `ConnectionsClient::fan_out`; a closed socket (410) is deleted
//!   with its subscriptions on the way.
//! - **Failures:** when a fan-out still has transient failures after its retries (or the table
//!   is unavailable), that record and every later record of the batch are reported as batch item
//!   failures by sequence number, so the stream retries them in order. Connections that already
//!   got the frame may get it again: delivery is at least once, clients drop duplicates by id.
//! - **Env:** `TABLE_NAME`, `CONNECTIONS_ENDPOINT`.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::de::DeserializeOwned;
use shared::connections::ConnectionsClient;
use shared::frames::{ChannelDeleted, MemberLeft, MessageDeleted, ServerDeleted, ServerFrame};
use shared::keys::{ItemKind, Key};
use shared::model::{Channel, Member, Message, Server};
use shared::store::{Store, from_raw};

/// What the stream consumer needs, built once per cold start.
#[derive(Debug)]
pub struct State {
    /// The single table (subscriptions; stale connections are deleted here).
    pub store: Store,
    /// The `@connections` client.
    pub connections: ConnectionsClient,
}

impl State {
    /// The state from its parts.
    pub fn new(store: Store, connections: ConnectionsClient) -> Self {
        Self { store, connections }
    }
}

/// Broadcasts each record in stream order; reports the first record that could not be
/// delivered, and every record after it, as batch item failures.
pub async fn handle(state: &State, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut failing = false;
    for record in event.records {
        let sequence_number = record.change.sequence_number.clone();
        if !failing {
            match broadcast(state, record).await {
                Ok(()) => continue,
                Err(reason) => {
                    tracing::warn!(sequence_number = ?sequence_number, reason = %reason, "broadcast failed; the stream will retry");
                    failing = true;
                }
            }
        }
        let mut failure = DynamoDbBatchItemFailure::default();
        // Without a sequence number the record cannot be named: an empty identifier makes Lambda
        // retry the whole batch rather than checkpoint past a record that was never delivered.
        failure.item_identifier = Some(sequence_number.unwrap_or_default());
        response.batch_item_failures.push(failure);
    }
    response
}

/// Sends one record's frame to its server's subscribers; `Err` when it is worth retrying.
async fn broadcast(state: &State, record: EventRecord) -> Result<(), String> {
    let Some((server_id, frame)) = frame_for(record) else {
        return Ok(());
    };
    let audience = state
        .store
        .subscriptions_of_server(&server_id)
        .await
        .map_err(|error| error.to_string())?;
    if audience.is_empty() {
        return Ok(());
    }
    let report = state.connections.fan_out(&state.store, &audience, &frame).await;
    tracing::info!(
        server_id = %server_id,
        frame = frame.kind(),
        delivered = report.delivered.len(),
        gone = report.gone.len(),
        failed = report.failed.len(),
        rejected = report.rejected.len(),
        "broadcast"
    );
    if report.should_retry() {
        return Err(format!("{} connections could not be reached", report.failed.len()));
    }
    Ok(())
}

/// The server whose subscribers should see this change, and the frame to send them.
fn frame_for(record: EventRecord) -> Option<(String, ServerFrame)> {
    let key: Key = match from_raw(record.change.keys.into()) {
        Ok(key) => key,
        Err(error) => {
            tracing::error!(error = %error, "skipping a record whose keys do not decode");
            return None;
        }
    };
    let kind = shared::keys::classify(&key.pk, &key.sk);
    let (new, old) = (record.change.new_image, record.change.old_image);
    let frame = match (record.event_name.as_str(), kind) {
        ("INSERT", ItemKind::Message) => {
            decode::<Message>(new, &key).map(|m| (m.server_id.clone(), ServerFrame::MessageCreate(m)))
        }
        ("MODIFY", ItemKind::Message) => {
            decode::<Message>(new, &key).map(|m| (m.server_id.clone(), ServerFrame::MessageUpdate(m)))
        }
        ("REMOVE", ItemKind::Message) => decode::<Message>(old, &key).map(|m| {
            let deleted = MessageDeleted {
                id: m.id,
                channel_id: m.channel_id,
                server_id: m.server_id.clone(),
            };
            (m.server_id, ServerFrame::MessageDelete(deleted))
        }),
        ("INSERT", ItemKind::Channel) => {
            decode::<Channel>(new, &key).map(|c| (c.server_id.clone(), ServerFrame::ChannelCreate(c)))
        }
        ("MODIFY", ItemKind::Channel) => {
            decode::<Channel>(new, &key).map(|c| (c.server_id.clone(), ServerFrame::ChannelUpdate(c)))
        }
        ("REMOVE", ItemKind::Channel) => decode::<Channel>(old, &key).map(|c| {
            (
                c.server_id.clone(),
                ServerFrame::ChannelDelete(ChannelDeleted {
                    id: c.id,
                    server_id: c.server_id,
                }),
            )
        }),
        ("INSERT", ItemKind::Member) => {
            decode::<Member>(new, &key).map(|m| (m.server_id.clone(), ServerFrame::MemberJoin(m)))
        }
        ("REMOVE", ItemKind::Member) => decode::<Member>(old, &key).map(|m| {
            (
                m.server_id.clone(),
                ServerFrame::MemberLeave(MemberLeft {
                    server_id: m.server_id,
                    user_id: m.user_id,
                }),
            )
        }),
        ("MODIFY", ItemKind::Server) => {
            decode::<Server>(new, &key).map(|s| (s.id.clone(), ServerFrame::ServerUpdate(s)))
        }
        ("REMOVE", ItemKind::Server) => {
            decode::<Server>(old, &key).map(|s| (s.id.clone(), ServerFrame::ServerDelete(ServerDeleted { id: s.id })))
        }
        _ => None,
    };
    if frame.is_none() {
        tracing::debug!(event = %record.event_name, kind = ?kind, "not broadcast");
    }
    frame
}

/// A stream image as a model type; a malformed image is logged and skipped.
fn decode<T: DeserializeOwned>(image: serde_dynamo::Item, key: &Key) -> Option<T> {
    from_raw(image.into())
        .inspect_err(|error| tracing::error!(pk = %key.pk, sk = %key.sk, error = %error, "stream image does not decode; skipped"))
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::{Value, json};
    use shared::connections::testing::FakeEndpoint;
    use shared::model::Connection;

    const INSERTS: &str = include_str!("../../../events/ws-broadcast/inserts.json");
    const NOT_BROADCAST: &str = include_str!("../../../events/ws-broadcast/not-broadcast.json");
    /// The ids the samples use, replaced by the test's own.
    const SAMPLE_SERVER: &str = "01M8YBG0SBK3YHEC001TPZE9KC";

    struct Fixture {
        state: State,
        endpoint: FakeEndpoint,
        server_id: String,
    }

    /// A server with one member connection (`member`), and an outsider connection (`outsider`)
    /// subscribed only to a server of its own.
    async fn fixture() -> Fixture {
        let endpoint = FakeEndpoint::start().await;
        let store = shared::testing::fresh_store().await;
        let (member, outsider) = (shared::testing::user_id(), shared::testing::user_id());
        let (server, _) = store.create_server(&member, "lovelace".to_owned()).await.unwrap();
        store.create_server(&outsider, "elsewhere".to_owned()).await.unwrap();
        connect(&store, "member", &member).await;
        connect(&store, "outsider", &outsider).await;
        Fixture {
            state: State::new(store, endpoint.client(None)),
            endpoint,
            server_id: server.id,
        }
    }

    async fn connect(store: &Store, connection_id: &str, user_id: &str) {
        let connection = Connection {
            connection_id: connection_id.to_owned(),
            user_id: user_id.to_owned(),
            connected_at: shared::clock::now_rfc3339(),
        };
        store.put_connection(&connection).await.unwrap();
    }

    /// A sample event about `server_id` instead of the sample's server.
    fn sample(json: &str, server_id: &str) -> Event {
        serde_json::from_str(&json.replace(SAMPLE_SERVER, server_id)).unwrap()
    }

    fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.clone().unwrap())
            .collect()
    }

    fn types(frames: &[Value]) -> Vec<&str> {
        frames.iter().map(|frame| frame["type"].as_str().unwrap()).collect()
    }

    #[test]
    fn sample_events_deserialize_into_the_dynamodb_event_type() {
        for (json, records) in [(INSERTS, 3), (NOT_BROADCAST, 5)] {
            let event: Event = serde_json::from_str(json).unwrap();
            assert_eq!(event.records.len(), records);
            assert!(
                event
                    .records
                    .iter()
                    .all(|record| record.change.sequence_number.is_some())
            );
            assert!(event.records.iter().all(|record| record.change.keys.contains_key("PK")));
        }
    }

    #[tokio::test]
    async fn inserts_reach_subscribed_connections_as_create_and_join_frames_in_order() {
        let fixture = fixture().await;

        let response = handle(&fixture.state, sample(INSERTS, &fixture.server_id)).await;

        assert!(response.batch_item_failures.is_empty());
        let frames = fixture.endpoint.frames_to("member");
        assert_eq!(types(&frames), vec!["MESSAGE_CREATE", "CHANNEL_CREATE", "MEMBER_JOIN"]);
        assert_eq!(
            frames[0]["data"],
            json!({
                "id": "01M8YBG4PBQG32CMT4ZFWVMBBV",
                "channelId": "01M8YBG1RKC9RBTDZ0XXJA1HF4",
                "serverId": fixture.server_id,
                "authorId": "794192ac-8ac8-4d49-a7e9-46feb209fb3b",
                "content": "hello, world",
                "createdAt": "2026-12-03T16:24:40.123Z",
            })
        );
        assert_eq!(frames[1]["data"]["name"], "standup");
        assert_eq!(frames[1]["data"]["kind"], "video");
        assert_eq!(frames[2]["data"]["userId"], "5f1c6a2e-3b7d-4e29-9c41-2a8d0f6b7e13");
        assert_eq!(frames[2]["data"]["role"], "member");
        assert!(fixture.endpoint.frames_to("outsider").is_empty());
    }

    #[tokio::test]
    async fn a_closed_connection_is_deleted_with_its_subscriptions_while_the_other_still_receives() {
        let fixture = fixture().await;
        let store = &fixture.state.store;
        let grace = shared::testing::user_id();
        let invite = store
            .create_invite(&fixture.server_id, &shared::testing::user_id(), None, 3600)
            .await
            .unwrap();
        store.join_with_invite(&invite.code, &grace).await.unwrap();
        connect(store, "grace-closed", &grace).await;
        fixture.endpoint.answer("grace-closed", 410);

        let response = handle(&fixture.state, sample(INSERTS, &fixture.server_id)).await;

        assert!(response.batch_item_failures.is_empty());
        assert_eq!(fixture.endpoint.frames_to("member").len(), 3);
        assert_eq!(
            fixture.endpoint.attempts_to("grace-closed"),
            1,
            "forgotten after the first 410"
        );
        assert!(store.get_connection("grace-closed").await.unwrap().is_none());
        let subscribers: Vec<String> = store
            .subscriptions_of_server(&fixture.server_id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.connection_id)
            .collect();
        assert_eq!(subscribers, vec!["member".to_owned()]);
    }

    #[tokio::test]
    async fn a_gone_subscription_whose_connection_item_is_already_deleted_is_removed_too() {
        let fixture = fixture().await;
        let store = &fixture.state.store;
        let grace = shared::testing::user_id();
        let invite = store
            .create_invite(&fixture.server_id, &shared::testing::user_id(), None, 3600)
            .await
            .unwrap();
        store.join_with_invite(&invite.code, &grace).await.unwrap();
        connect(store, "grace-orphan", &grace).await;
        // `$disconnect` raced a join: the connection item is gone, a subscription is left over.
        store.delete_connection("grace-orphan").await.unwrap();
        let orphan = Connection {
            connection_id: "grace-orphan".to_owned(),
            user_id: grace.clone(),
            connected_at: shared::clock::now_rfc3339(),
        };
        store
            .subscribe_connection(&orphan, std::slice::from_ref(&fixture.server_id))
            .await
            .unwrap();
        fixture.endpoint.answer("grace-orphan", 410);

        let response = handle(&fixture.state, sample(INSERTS, &fixture.server_id)).await;

        assert!(response.batch_item_failures.is_empty());
        assert_eq!(fixture.endpoint.attempts_to("grace-orphan"), 1);
        let subscribers: Vec<String> = store
            .subscriptions_of_server(&fixture.server_id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.connection_id)
            .collect();
        assert_eq!(subscribers, vec!["member".to_owned()]);
    }

    #[tokio::test]
    async fn a_persistently_failing_endpoint_reports_that_record_and_every_later_one() {
        let fixture = fixture().await;
        fixture.endpoint.answer("member", 500);
        let mut event = sample(INSERTS, &fixture.server_id);
        let skipped: Event = serde_json::from_str(NOT_BROADCAST).unwrap();
        event.records.insert(0, skipped.records[0].clone());

        let response = handle(&fixture.state, event).await;

        assert_eq!(
            failures(&response),
            vec![
                "400000000000000000001",
                "400000000000000000002",
                "400000000000000000003"
            ]
        );
        assert_eq!(
            fixture.endpoint.attempts_to("member"),
            3,
            "one record tried (3 attempts), the rest left for the retry"
        );
        assert!(fixture.state.store.get_connection("member").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn records_that_are_not_broadcast_are_skipped_never_failed() {
        let fixture = fixture().await;
        fixture.endpoint.answer("member", 500);

        let response = handle(&fixture.state, sample(NOT_BROADCAST, &fixture.server_id)).await;

        assert!(response.batch_item_failures.is_empty());
        assert!(fixture.endpoint.posts().is_empty());
    }

    #[tokio::test]
    async fn a_record_whose_image_does_not_decode_is_skipped() {
        let fixture = fixture().await;
        let mut event: Value = serde_json::from_str(&INSERTS.replace(SAMPLE_SERVER, &fixture.server_id)).unwrap();
        event["Records"][0]["dynamodb"]["NewImage"]
            .as_object_mut()
            .unwrap()
            .remove("content");

        let response = handle(&fixture.state, serde_json::from_value(event).unwrap()).await;

        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            types(&fixture.endpoint.frames_to("member")),
            vec!["CHANNEL_CREATE", "MEMBER_JOIN"]
        );
    }

    #[tokio::test]
    async fn edits_and_removals_become_update_delete_and_leave_frames() {
        let fixture = fixture().await;
        let mut event: Value = serde_json::from_str(&INSERTS.replace(SAMPLE_SERVER, &fixture.server_id)).unwrap();
        let records = event["Records"].as_array_mut().unwrap();
        records[0]["eventName"] = json!("MODIFY");
        records[0]["dynamodb"]["NewImage"]["content"] = json!({"S": "hello, edited world"});
        records[0]["dynamodb"]["NewImage"]["editedAt"] = json!({"S": "2026-12-03T16:25:00.000Z"});
        for record in &mut records[1..] {
            let image = record["dynamodb"].as_object_mut().unwrap().remove("NewImage").unwrap();
            record["dynamodb"]["OldImage"] = image;
            record["eventName"] = json!("REMOVE");
        }

        let response = handle(&fixture.state, serde_json::from_value(event).unwrap()).await;

        assert!(response.batch_item_failures.is_empty());
        let frames = fixture.endpoint.frames_to("member");
        assert_eq!(types(&frames), vec!["MESSAGE_UPDATE", "CHANNEL_DELETE", "MEMBER_LEAVE"]);
        assert_eq!(frames[0]["data"]["content"], "hello, edited world");
        assert_eq!(
            frames[1]["data"],
            json!({"id": "01M8YBG3Q311JSMN0105S1K2CX", "serverId": fixture.server_id})
        );
        assert_eq!(
            frames[2]["data"],
            json!({"serverId": fixture.server_id, "userId": "5f1c6a2e-3b7d-4e29-9c41-2a8d0f6b7e13"})
        );
    }
}
