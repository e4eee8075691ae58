//! The real-time path end to end: `$connect` authentication, the stream → `ws-broadcast`
//! mapping, and cleanup of dead connections.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_straight_to_the_table_reaches_subscribed_sockets() -> anyhow::Result<()> {
    let world = World::start().await?;
    let ada = world.sign_up("ada").await?;
    let (server_id, general) = world.create_server(&ada, "Streams").await?;
    let (mut socket, _ready) = world.connect_ready(&ada).await?;

    let message_id = shared::ids::new_id();
    let message = serde_json::json!({
        "id": message_id, "channelId": general, "serverId": server_id, "authorId": ada.id,
        "content": "written by the SDK, not the API", "createdAt": shared::clock::now_rfc3339(),
    });
    let key = shared::keys::message(&general, &message_id);
    let mut item: std::collections::HashMap<String, AttributeValue> = serde_dynamo::to_item(&message)?;
    item.insert("PK".to_owned(), AttributeValue::S(key.pk));
    item.insert("SK".to_owned(), AttributeValue::S(key.sk));
    world
        .dynamodb()
        .put_item()
        .table_name(world.table_name())
        .set_item(Some(item))
        .send()
        .await?;

    let delivered = socket.expect("MESSAGE_CREATE").await?;
    assert_eq!(delivered, message);
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_is_cleaned_up_and_the_other_still_receives() -> anyhow::Result<()> {
    let world = World::start().await?;
    let ada = world.sign_up("ada").await?;
    let (_server_id, general) = world.create_server(&ada, "Phones").await?;
    let (mut desktop, _) = world.connect_ready(&ada).await?;
    let (phone, _) = world.connect_ready(&ada).await?;
    let connections_before = count_items(&world, "CONN#").await?;
    let subscriptions_before = count_items(&world, "SUB#").await?;
    assert_eq!((connections_before, subscriptions_before), (2, 2));

    phone.drop_abruptly();
    let (status, posted) = world
        .as_user(
            &ada,
            "POST",
            &format!("/channels/{general}/messages"),
            Some(r#"{"content":"still here?"}"#),
        )
        .await?;
    assert_eq!(status, 201);

    assert_eq!(desktop.expect("MESSAGE_CREATE").await?["id"], posted["id"]);
    let mut remaining = (0, 0);
    for _ in 0..50 {
        remaining = (count_items(&world, "CONN#").await?, count_items(&world, "SUB#").await?);
        if remaining == (1, 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(remaining, (1, 1), "the dropped connection's items must be gone");
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connects_get_401_and_write_nothing() -> anyhow::Result<()> {
    let world = World::start().await?;
    let ada = world.sign_up("ada").await?;

    assert_eq!(world.connect(None).await.err(), Some(401));
    assert_eq!(world.connect(Some("not.a.jwt")).await.err(), Some(401));
    let tampered = format!("{}x", ada.token());
    assert_eq!(world.connect(Some(&tampered)).await.err(), Some(401));
    assert_eq!(world.connect(Some(&ada.tokens.refresh_token)).await.err(), Some(401));

    assert_eq!(count_items(&world, "CONN#").await?, 0);
    assert!(
        world.connect(Some(&ada.tokens.access_token)).await.is_ok(),
        "access tokens are accepted too"
    );
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_subscribes_live_sockets_at_once() -> anyhow::Result<()> {
    let world = World::start().await?;
    let ada = world.sign_up("ada").await?;
    let bob = world.sign_up("bob").await?;
    let (server_id, general) = world.create_server(&ada, "Late joiners").await?;
    let (mut bob_socket, _) = world.connect_ready(&bob).await?;

    world.invite_and_join(&ada, &bob, &server_id).await?;
    assert_eq!(bob_socket.expect("MEMBER_JOIN").await?["userId"], bob.id.as_str());
    let (_, posted) = world
        .as_user(
            &ada,
            "POST",
            &format!("/channels/{general}/messages"),
            Some(r#"{"content":"welcome"}"#),
        )
        .await?;
    assert_eq!(bob_socket.expect("MESSAGE_CREATE").await?["id"], posted["id"]);

    let (status, channel) = world
        .as_user(
            &ada,
            "POST",
            &format!("/servers/{server_id}/channels"),
            Some(r#"{"name":"standup","kind":"video"}"#),
        )
        .await?;
    assert_eq!(status, 201);
    assert_eq!(bob_socket.expect("CHANNEL_CREATE").await?, channel);
    world.stop().await;
    Ok(())
}

async fn count_items(world: &World, sort_key_prefix: &str) -> anyhow::Result<usize> {
    let output = world
        .dynamodb()
        .scan()
        .table_name(world.table_name())
        .filter_expression("begins_with(SK, :prefix) OR begins_with(PK, :prefix)")
        .expression_attribute_values(":prefix", AttributeValue::S(sort_key_prefix.to_owned()))
        .send()
        .await?;
    Ok(output.items().len())
}
