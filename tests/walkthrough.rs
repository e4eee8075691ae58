//! The README walkthrough as a test: two users sign up, share a server, chat in real time; a
//! third is refused everywhere.

use integration_tests::{User, World};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_in_real_time_and_a_stranger_is_refused_everywhere() -> anyhow::Result<()> {
    let world = World::start().await?;
    let ada = world.sign_up("ada").await?;
    let bob = world.sign_up("bob").await?;
    let eve = world.sign_up("eve").await?;

    let (server_id, general) = world.create_server(&ada, "Analytical Engines").await?;
    world.invite_and_join(&ada, &bob, &server_id).await?;

    let (mut ada_socket, ada_ready) = world.connect_ready(&ada).await?;
    let (mut bob_socket, bob_ready) = world.connect_ready(&bob).await?;
    assert_eq!(ada_ready["servers"][0]["id"], server_id.as_str(), "{ada_ready}");
    assert_eq!(bob_ready["servers"][0]["id"], server_id.as_str(), "{bob_ready}");

    let (status, posted) = world
        .as_user(
            &ada,
            "POST",
            &format!("/channels/{general}/messages"),
            Some(r#"{"content":"Hello, Bob!","nonce":"walk-1"}"#),
        )
        .await?;
    assert_eq!(status, 201, "{posted}");

    let delivered = bob_socket.expect("MESSAGE_CREATE").await?;
    assert_eq!(delivered, posted);
    assert_eq!(ada_socket.expect("MESSAGE_CREATE").await?["id"], posted["id"]);

    let (status, history) = world
        .as_user(&bob, "GET", &format!("/channels/{general}/messages"), None)
        .await?;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!(history[0], posted);

    assert_refused_everywhere(&world, &eve, &server_id, &general).await?;
    let (mut eve_socket, eve_ready) = world.connect_ready(&eve).await?;
    assert_eq!(eve_ready["servers"], serde_json::json!([]));
    world
        .as_user(
            &ada,
            "POST",
            &format!("/channels/{general}/messages"),
            Some(r#"{"content":"secret"}"#),
        )
        .await?;
    assert_eq!(bob_socket.expect("MESSAGE_CREATE").await?["content"], "secret");
    eve_socket
        .expect_none("MESSAGE_CREATE", Duration::from_millis(1500))
        .await?;

    world.stop().await;
    Ok(())
}

async fn assert_refused_everywhere(
    world: &World,
    stranger: &User,
    server_id: &str,
    channel_id: &str,
) -> anyhow::Result<()> {
    let attempts = [
        ("GET", format!("/servers/{server_id}"), None),
        ("GET", format!("/servers/{server_id}/channels"), None),
        (
            "POST",
            format!("/servers/{server_id}/channels"),
            Some(r#"{"name":"mine","kind":"text"}"#),
        ),
        ("POST", format!("/servers/{server_id}/invites"), None),
        ("GET", format!("/channels/{channel_id}/messages"), None),
        (
            "POST",
            format!("/channels/{channel_id}/messages"),
            Some(r#"{"content":"let me in"}"#),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, json) = world.as_user(stranger, method, &path, body).await?;
        assert_eq!(status, 403, "{method} {path}: {json}");
        assert_eq!(json["error"]["code"], "forbidden");
    }
    let (status, servers) = world.as_user(stranger, "GET", "/servers", None).await?;
    assert_eq!((status, servers), (200, serde_json::json!([])));
    Ok(())
}
